"""Customer lifetime value: expected purchases from a BTYD model × expected spend from Gamma-Gamma,
discounted per period (Fader, Hardie & Lee 2005, "RFM and CLV", CLV = margin × E[M] × DET).

DET is taken period by period: Σ_i (E[Y(i·L)] - E[Y((i-1)·L)]) / (1+d)^i over the horizon's periods.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from siyu.core.errors import ValidationFailed
from siyu.predict.data import FrequencyData, Vector
from siyu.predict.gamma_gamma import GammaGamma


class PurchaseModel(Protocol):
    """What CLV needs of a purchase model (BG/NBD and Pareto/NBD both qualify)."""

    def conditional_expected_purchases(self, t: float, data: FrequencyData) -> Vector: ...


def discounted_expected_purchases(
    purchases: PurchaseModel, data: FrequencyData, *, periods: int, period_length: float, discount_rate: float
) -> Vector:
    """DET: the expected purchases of each of the next `periods` periods, each discounted to today."""
    if periods < 1:
        raise ValidationFailed("the horizon needs at least one period", field="periods")
    if period_length <= 0:
        raise ValidationFailed("period_length must be positive", field="period_length")
    if discount_rate < 0:
        raise ValidationFailed("discount_rate must not be negative", field="discount_rate")
    total = np.zeros_like(data.x)
    previous = np.zeros_like(data.x)
    for i in range(1, periods + 1):
        cumulative = purchases.conditional_expected_purchases(i * period_length, data)
        total += (cumulative - previous) / (1 + discount_rate) ** i
        previous = cumulative
    return total


def customer_lifetime_value(
    purchases: PurchaseModel,
    spend: GammaGamma,
    data: FrequencyData,
    m_x: npt.ArrayLike,
    *,
    periods: int = 12,
    period_length: float = 365.25 / 12 / 7,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> Vector:
    """margin × E[M | x, m_x] × DET per customer (defaults: 12 monthly periods, time in weeks, 1%/month)."""
    if not 0 < margin <= 1:
        raise ValidationFailed("margin must be in (0, 1]", field="margin")
    expected_spend = spend.conditional_expected_spend(data.x, m_x)
    det = discounted_expected_purchases(
        purchases, data, periods=periods, period_length=period_length, discount_rate=discount_rate
    )
    return np.asarray(margin * expected_spend * det)
