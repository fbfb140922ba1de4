"""Customers: identity graph, merges, traits, stats and the unified profile."""
