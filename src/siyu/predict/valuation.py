"""BTYD scores for every buyer as of a day: BG/NBD and Gamma-Gamma fitted on the brand's own orders (time
in days), then P(alive), expected purchases, CLV, the next purchase window and P(no purchase in N days).

Small brands can fit a Beta(a, b) dropout prior that is almost a point mass (a, b in the millions), where
the Gauss hypergeometric function of BG/NBD's eq. 10 overflows. There, the limit of a fixed dropout
probability p = a/(a+b) is used: a customer alive at T dies at the first purchase marked with probability
p, i.e. at rate λp, so E[Y(t) | λ, alive] = (1 - e^(-λpt))/p and, with λ ~ Gamma(r+x, α+T),
E[Y(t) | data] = P(alive) · (1 - ((α+T)/(α+T+pt))^(r+x)) / p.

The spend model needs repeat buyers; with fewer than MIN_SPEND of them, or a fit whose mean spend is
infinite (q ≤ 1), each buyer's expected spend is their own mean spend per purchase day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from siyu.core.errors import ValidationFailed
from siyu.predict import bgnbd, gamma_gamma
from siyu.predict.clv import discounted_expected_purchases
from siyu.predict.data import FrequencyData, SpendData, Vector
from siyu.predict.features import OrderHistory
from siyu.predict.next_purchase import next_purchase_window, probability_no_purchase

MIN_BUYERS = 10  # buyers needed to fit BG/NBD at all
MIN_SPEND = 10  # repeat buyers needed to fit Gamma-Gamma
MONTH_DAYS = 365.25 / 12
EXPECTED_DAYS = 90.0  # the horizon of `expected_purchases_90d`


@dataclass(frozen=True)
class Valuation:
    """Per buyer (rows of the order history); waits in days from `today`, NaN where unknown."""

    p_alive: Vector
    expected_90d: Vector
    clv_minor: Vector
    no_purchase: Vector  # P(no purchase in the churn horizon)
    next_expected: Vector
    next_low: Vector
    next_high: Vector
    params: dict[str, Any]


@dataclass(frozen=True)
class StableBGNBD:
    """BG/NBD's conditional expectation with the fixed-p limit wherever eq. 10 is not finite."""

    model: bgnbd.BGNBD

    def conditional_expected_purchases(self, t: float, data: FrequencyData) -> Vector:
        m = self.model
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            exact = m.conditional_expected_purchases(t, data)
        bad = ~np.isfinite(exact)
        if bad.any():
            p = m.a / (m.a + m.b)
            base = m.alpha + data.T[bad]
            buys = -np.expm1(-(m.r + data.x[bad]) * np.log1p(p * t / base)) / p
            exact[bad] = m.p_alive(data)[bad] * buys
        return np.asarray(exact)


def frequency_data(history: OrderHistory, today: int) -> FrequencyData:
    """(x, t_x, T) in days: repeat purchase days, last and `today` counted from the first purchase day."""
    first = history.first_day
    return FrequencyData(history.purchase_days - 1, history.last_day - first, today - first)


def _spend(history: OrderHistory, data: FrequencyData) -> tuple[Vector, dict[str, Any]]:
    """Expected spend per purchase day (minor units) per buyer, and the spend model used."""
    own = history.total_minor / np.maximum(history.purchase_days, 1)
    m_x = history.repeat_mean_minor()
    repeat = (data.x > 0) & (m_x > 0)
    if int(repeat.sum()) < MIN_SPEND:
        return own.astype(np.float64), {"model": "own_mean", "reason": "too few repeat buyers"}
    try:
        fit = gamma_gamma.fit(SpendData(data.x[repeat], m_x[repeat]))
        spend = fit.model.conditional_expected_spend(data.x, np.where(repeat, m_x, 0.0))
    except ValidationFailed as exc:
        return own.astype(np.float64), {"model": "own_mean", "reason": exc.message}
    m = fit.model
    params = {
        "model": "gamma_gamma",
        "p": m.p,
        "q": m.q,
        "gamma": m.gamma,
        "log_likelihood": fit.log_likelihood,
    }
    return spend, params


def value(
    history: OrderHistory,
    today: int,
    *,
    churn_days: int,
    alive_threshold: float,
    clv_months: int,
    monthly_discount: float,
) -> Valuation | None:
    """Fit and score; None when there are too few buyers or the purchase model cannot be fitted."""
    n = history.customer_id.shape[0]
    if n < MIN_BUYERS:
        return None
    data = frequency_data(history, today)
    try:
        fit = bgnbd.fit(data)
    except ValidationFailed:
        return None
    model = fit.model
    stable = StableBGNBD(model)
    spend, spend_params = _spend(history, data)
    det = discounted_expected_purchases(
        stable, data, periods=clv_months, period_length=MONTH_DAYS, discount_rate=monthly_discount
    )
    window = next_purchase_window(model, data, min_p_alive=alive_threshold)
    params = {
        "bgnbd": {
            "r": model.r,
            "alpha": model.alpha,
            "a": model.a,
            "b": model.b,
            "log_likelihood": fit.log_likelihood,
            "customers": fit.customers,
            "converged": fit.converged,
            "time_unit": "days",
        },
        "spend": spend_params,
    }
    return Valuation(
        p_alive=window.p_alive,
        expected_90d=stable.conditional_expected_purchases(EXPECTED_DAYS, data),
        clv_minor=np.asarray(spend * det),
        no_purchase=probability_no_purchase(model, data, float(churn_days)),
        next_expected=window.expected,
        next_low=window.low,
        next_high=window.high,
        params=params,
    )
