"""Next purchase window: the Lomax quantiles against simulated waits, P(no purchase) against simulated
BG/NBD customers followed past T, masking of customers unlikely to be alive."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.core.errors import ValidationFailed
from siyu.predict.bgnbd import BGNBD
from siyu.predict.data import FrequencyData
from siyu.predict.next_purchase import (
    next_purchase_window,
    probability_no_purchase,
    survival,
    waiting_quantile,
)

MODEL = BGNBD(r=0.8, alpha=20.0, a=0.6, b=3.0)  # time in days


def test_quantiles_match_simulated_waits_of_alive_customers() -> None:
    data = FrequencyData([0, 3, 12], [0, 40, 170], [60, 100, 180])
    rng = np.random.default_rng(1)
    for i in range(3):
        rate = rng.gamma(MODEL.r + data.x[i], 1 / (MODEL.alpha + data.T[i]), 400_000)
        waits = rng.exponential(1 / rate)
        for q in (0.1, 0.5, 0.9):
            formula = waiting_quantile(MODEL, data, q)[i]
            assert np.quantile(waits, q) == pytest.approx(formula, rel=0.03)
        # S(t) is the share still waiting
        for t in (5.0, 30.0):
            assert np.mean(waits > t) == pytest.approx(survival(MODEL, data, t)[i], abs=0.003)


def test_median_is_the_closed_form_and_interval_holds_it() -> None:
    data = FrequencyData([0, 1, 5], [0, 10, 50], [30, 30, 60])
    window = next_purchase_window(MODEL, data, min_p_alive=0.0)
    shape = MODEL.r + data.x
    np.testing.assert_allclose(window.expected, (MODEL.alpha + data.T) * (2 ** (1 / shape) - 1))
    assert np.all(window.low < window.expected) and np.all(window.expected < window.high)
    # more purchases in the same time: a shorter wait
    assert window.expected[2] < window.expected[1] < window.expected[0]


def _follow(model: BGNBD, n: int, T: float, t: float, seed: int) -> tuple[FrequencyData, np.ndarray]:
    """Simulate n customers from their first purchase at 0 to T + t: the summary at T and whether they
    bought in (T, T + t]."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(model.r, 1 / model.alpha, n)
    leave = rng.beta(model.a, model.b, n)
    clock = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    later = np.zeros(n, dtype=bool)
    while alive.any():
        clock[alive] += rng.exponential(1 / rate[alive])
        bought = alive & (clock <= T + t)
        early = bought & (clock <= T)
        x[early] += 1
        t_x[early] = clock[early]
        later |= bought & (clock > T)
        alive &= clock <= T  # past T we only need the first purchase
        alive &= ~(early & (rng.random(n) < leave))  # drop out after a repeat purchase
    return FrequencyData(x, t_x, np.full(n, T)), later


def test_probability_of_no_purchase_matches_simulated_customers() -> None:
    data, bought_later = _follow(MODEL, 60_000, T=120.0, t=90.0, seed=7)
    predicted = probability_no_purchase(MODEL, data, 90.0)
    assert predicted.mean() == pytest.approx(1 - bought_later.mean(), abs=0.006)
    # and within slices of the prediction (it sorts customers, not just the average)
    order = np.argsort(predicted)
    for part in np.array_split(order, 5):
        assert predicted[part].mean() == pytest.approx(1 - bought_later[part].mean(), abs=0.015)


def test_no_purchase_probability_limits() -> None:
    data = FrequencyData([0, 4], [0, 20], [50, 60])
    np.testing.assert_allclose(probability_no_purchase(MODEL, data, 0.0), [1.0, 1.0])
    far = probability_no_purchase(MODEL, data, 1e15)
    np.testing.assert_allclose(far, 1 - MODEL.p_alive(data), atol=1e-6)


def test_unlikely_alive_customers_get_no_window() -> None:
    # eight purchases, the last long ago: almost surely gone
    data = FrequencyData([8, 8], [20, 180], [200, 200])
    window = next_purchase_window(MODEL, data, min_p_alive=0.5)
    assert window.p_alive[0] < 0.5 < window.p_alive[1]
    assert np.isnan(window.expected[0]) and np.isnan(window.low[0]) and np.isnan(window.high[0])
    assert np.isfinite(window.expected[1])


def test_bad_arguments_name_the_field() -> None:
    data = FrequencyData([1], [1], [2])
    with pytest.raises(ValidationFailed) as bad_q:
        waiting_quantile(MODEL, data, 1.0)
    assert bad_q.value.field == "q"
    with pytest.raises(ValidationFailed) as bad_t:
        probability_no_purchase(MODEL, data, -1.0)
    assert bad_t.value.field == "t"
    with pytest.raises(ValidationFailed) as bad_low:
        next_purchase_window(MODEL, data, low=0.6)
    assert bad_low.value.field == "low"
