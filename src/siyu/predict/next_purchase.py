"""Next purchase window from a fitted BG/NBD model: when an active customer's next purchase is due (a
median date and a 10th-90th percentile interval), and the chance of no purchase at all in a horizon.

Under BG/NBD (Fader, Hardie & Lee 2005) a customer who is still active buys at Poisson rate λ. Given
(x, t_x, T) *and* being alive at T, the posterior of λ is Gamma(r+x, α+T): the joint density of the
data and "alive" is ∝ λ^x e^(-λT) (1-p)^x, so the prior Gamma(r, α) is updated to shape r+x, rate α+T.
The wait W from T to the next purchase is Exponential(λ) (memoryless), hence, integrating λ out, W is
Lomax (Pareto type II):
  S(w) = P(W > w | alive) = ((α+T) / (α+T+w))^(r+x),
  quantile w_q = (α+T) · ((1-q)^(-1/(r+x)) - 1),    median w_0.5 = (α+T) · (2^(1/(r+x)) - 1),
  mean E[W | alive] = (α+T) / (r+x-1), finite only when r+x > 1 (so the median is what we report).
A dead customer never buys again, so P(no purchase in (T, T+t]) = 1 - P(alive) · (1 - S(t)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from siyu.core.errors import ValidationFailed
from siyu.predict.bgnbd import BGNBD
from siyu.predict.data import FrequencyData, Vector

LOW, HIGH = 0.1, 0.9  # the interval reported: 10th to 90th percentile of the wait


def waiting_quantile(model: BGNBD, data: FrequencyData, q: float) -> Vector:
    """w_q per customer: the wait (in the data's time unit, from T) with P(W ≤ w_q | alive) = q."""
    if not 0 < q < 1:
        raise ValidationFailed("a quantile must be strictly between 0 and 1", field="q")
    shape = model.r + data.x
    return np.asarray((model.alpha + data.T) * np.expm1(-np.log1p(-q) / shape))


def survival(model: BGNBD, data: FrequencyData, t: float) -> Vector:
    """S(t) = P(no purchase in the next t | alive) = ((α+T)/(α+T+t))^(r+x), computed in log space."""
    if t < 0:
        raise ValidationFailed("the horizon t must not be negative", field="t")
    return np.asarray(np.exp(_log_survival(model, data, t)))


def probability_no_purchase(model: BGNBD, data: FrequencyData, t: float) -> Vector:
    """P(no purchase in (T, T+t] | x, t_x, T) = 1 - P(alive) (1 - S(t))."""
    if t < 0:
        raise ValidationFailed("the horizon t must not be negative", field="t")
    buys_if_alive = -np.expm1(_log_survival(model, data, t))  # 1 - S(t) without cancellation
    return np.asarray(1.0 - model.p_alive(data) * buys_if_alive)


def _log_survival(model: BGNBD, data: FrequencyData, t: float) -> Vector:
    return np.asarray(-(model.r + data.x) * np.log1p(t / (model.alpha + data.T)))


@dataclass(frozen=True)
class NextPurchase:
    """Waits from T (data's time unit) per customer; NaN where the customer is unlikely to be alive."""

    expected: Vector  # the median wait
    low: Vector  # the LOW quantile
    high: Vector  # the HIGH quantile
    p_alive: Vector


def next_purchase_window(
    model: BGNBD, data: FrequencyData, *, min_p_alive: float = 0.5, low: float = LOW, high: float = HIGH
) -> NextPurchase:
    """Median and [low, high] quantiles of the wait to the next purchase, conditional on being alive;
    NaN for customers whose P(alive) is below `min_p_alive`."""
    if not 0 <= min_p_alive <= 1:
        raise ValidationFailed("min_p_alive must be in [0, 1]", field="min_p_alive")
    if not low < 0.5 < high:
        raise ValidationFailed("the interval must hold the median: low < 0.5 < high", field="low")
    alive = model.p_alive(data)
    unlikely: npt.NDArray[np.bool_] = alive < min_p_alive

    def masked(q: float) -> Vector:
        wait = waiting_quantile(model, data, q)
        wait[unlikely] = np.nan
        return wait

    return NextPurchase(masked(0.5), masked(low), masked(high), alive)
