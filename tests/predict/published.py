"""Comparing a fitted value with a published one: to 3 significant figures, and to every digit printed."""

from __future__ import annotations

import math


def three_significant(ours: float, published: float) -> bool:
    """Within half a unit of the third significant digit of the published value."""
    return abs(ours - published) <= 0.5 * 10 ** (math.floor(math.log10(abs(published))) - 2)


def printed_digits(ours: float, published: float) -> bool:
    """`ours` rounds to `published` at the number of decimals the paper printed."""
    text = repr(published)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(ours, decimals) == published
