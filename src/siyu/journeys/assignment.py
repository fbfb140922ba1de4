"""Deterministic A/B/n assignment: hash(journey, split node, customer) → a point in [0, 1); the first
`holdout_percent` of the line is the holdout, the rest is shared by the variants in proportion to weight.
The same customer lands in the same variant on every replay and every version of the journey.
"""

from __future__ import annotations

import hashlib

from .nodes import SplitNode, Variant

HOLDOUT = "holdout"


def bucket(journey_id: int, node_id: str, customer_id: int) -> float:
    """A uniform point in [0, 1) from SHA-256 (stable across processes and Python versions)."""
    digest = hashlib.sha256(f"{journey_id}:{node_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(node: SplitNode, journey_id: int, customer_id: int) -> Variant | None:
    """The customer's variant, or None for the holdout group."""
    point = bucket(journey_id, node.id, customer_id)
    holdout = node.holdout_percent / 100
    if point < holdout:
        return None
    scaled = (point - holdout) / (1 - holdout) * sum(v.weight for v in node.variants)
    for variant in node.variants:
        if scaled < variant.weight:
            return variant
        scaled -= variant.weight
    return node.variants[-1]  # float rounding at the very top of the line
