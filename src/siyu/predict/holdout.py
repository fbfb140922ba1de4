"""Holdout check: repeat purchases predicted for the holdout period against those actually made,
in total and by calibration frequency class (0, 1, …, 6, 7+), as in the papers' figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from siyu.predict.data import Vector


@dataclass(frozen=True)
class FrequencyClass:
    """Customers with `label` repeat purchases in calibration: their mean holdout purchases."""

    label: str
    customers: int
    actual: float
    predicted: dict[str, float]


@dataclass(frozen=True)
class HoldoutComparison:
    actual: float
    predicted: dict[str, float]
    classes: list[FrequencyClass]


def compare(
    x: Vector, actual: Vector, predicted: Mapping[str, Vector], *, top_class: int = 7
) -> HoldoutComparison:
    """Totals over all customers and per-class means; customers with x ≥ `top_class` share one class."""
    classes = []
    for k in range(top_class + 1):
        members = x >= k if k == top_class else x == k
        if not members.any():
            continue
        classes.append(
            FrequencyClass(
                label=f"{k}+" if k == top_class else str(k),
                customers=int(members.sum()),
                actual=float(actual[members].mean()),
                predicted={name: float(values[members].mean()) for name, values in predicted.items()},
            )
        )
    totals = {name: float(np.sum(values)) for name, values in predicted.items()}
    return HoldoutComparison(float(np.sum(actual)), totals, classes)
