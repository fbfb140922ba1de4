"""Buyer valuation: the fixed-p limit used where BG/NBD's eq. 10 overflows agrees with eq. 10 where both
are finite, and the spend model falls back to each buyer's own mean without enough repeat buyers."""

from __future__ import annotations

import numpy as np

from siyu.predict.bgnbd import BGNBD
from siyu.predict.data import FrequencyData
from siyu.predict.features import OrderHistory
from siyu.predict.valuation import StableBGNBD, value


def test_fixed_p_limit_matches_eq_10_for_a_concentrated_prior() -> None:
    data = FrequencyData([0, 2, 6], [0, 30, 170], [60, 100, 180])
    concentrated = BGNBD(r=1.2, alpha=40.0, a=800.0, b=3200.0)  # p ≈ 0.2 with a small spread
    exact = concentrated.conditional_expected_purchases(90, data)
    limit = StableBGNBD(BGNBD(r=1.2, alpha=40.0, a=4e8, b=16e8))
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(limit.model.conditional_expected_purchases(90, data)))
    np.testing.assert_allclose(limit.conditional_expected_purchases(90, data), exact, rtol=2e-3)
    # where eq. 10 is finite it is used as it is
    regular = BGNBD(r=0.8, alpha=20.0, a=0.6, b=3.0)
    np.testing.assert_array_equal(
        StableBGNBD(regular).conditional_expected_purchases(30, data),
        regular.conditional_expected_purchases(30, data),
    )


def history(n: int, repeat_every: int) -> OrderHistory:
    ids = np.arange(1, n + 1, dtype=np.int64)
    days = np.where(ids % repeat_every == 0, 3, 1).astype(np.int64)
    first = 20_000 + ids % 50
    return OrderHistory(ids, first, first + (days - 1) * 20, days, days, days * 1000 + ids, 1000 + ids * 0)


def test_too_few_buyers_or_repeaters() -> None:
    assert (
        value(history(5, 2), 20_200, churn_days=90, alive_threshold=0.5, clv_months=12, monthly_discount=0.01)
        is None
    )
    few = value(
        history(30, 10), 20_200, churn_days=90, alive_threshold=0.5, clv_months=12, monthly_discount=0.01
    )
    assert few is not None and few.params["spend"]["model"] == "own_mean"
    assert np.all(np.isfinite(few.clv_minor)) and np.all(few.clv_minor >= 0)
    assert np.all((few.no_purchase >= 0) & (few.no_purchase <= 1))
    assert few.params["bgnbd"]["time_unit"] == "days"
    assert few.expected_90d.shape == (30,)
