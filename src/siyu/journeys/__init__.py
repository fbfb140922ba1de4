"""Journeys: versioned definitions (triggers and a graph of nodes) and the pure step function that moves
one customer's run through them. The durable runner (timers, outbox, workers) wraps `engine.step`.
"""
