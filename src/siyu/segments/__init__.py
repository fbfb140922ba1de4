"""Segments: versioned condition trees, one SQL compiler, full rebuilds and per-customer re-evaluation."""
