"""Replenishment: configured and estimated consumption cycles, units bought, which date a customer gets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.core.errors import ValidationFailed
from siyu.predict.replenish import (
    ProductHistory,
    due_dates,
    estimate_cycles,
    group_medians,
    product_history,
    resolve_cycles,
)


def purchases(*rows: tuple[int, int, int, int]) -> ProductHistory:
    """(customer, product, day, units) rows, one per day, aggregated as SQL does."""
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return product_history(*(np.ascontiguousarray(table[:, i]) for i in range(4)))


def test_serum_bought_twice_over_runs_out_after_two_cycles() -> None:
    # customer 1 buys 2 units of product 0 (a 90-day serum) on day 100
    p = purchases((1, 0, 100, 2))
    due = due_dates(p, np.array([90.0]), today=120, remind_days=15)
    assert due.customer.tolist() == [1] and due.product.tolist() == [0]
    assert due.due_day.tolist() == [280] and due.remind_day.tolist() == [265]


def test_last_purchase_counts_and_products_without_cycle_are_ignored() -> None:
    p = purchases((1, 0, 10, 1), (1, 0, 70, 1), (1, 1, 75, 1), (2, 1, 5, 3))
    due = due_dates(p, np.array([60.0, np.nan]), today=80)
    assert due.customer.tolist() == [1] and due.due_day.tolist() == [130]  # from the day-70 purchase


def test_earliest_date_ahead_wins_else_the_latest_passed() -> None:
    cycles = np.array([30.0, 200.0, 10.0])
    p = purchases(
        (1, 0, 100, 1),  # due 130 (ahead)
        (1, 1, 0, 1),  # due 200 (ahead, later)
        (2, 0, 10, 1),  # due 40 (passed)
        (2, 2, 50, 1),  # due 60 (passed, more recent)
    )
    due = due_dates(p, cycles, today=120, remind_days=5)
    assert dict(zip(due.customer.tolist(), due.due_day.tolist(), strict=True)) == {1: 130, 2: 60}
    assert dict(zip(due.customer.tolist(), due.product.tolist(), strict=True)) == {1: 0, 2: 2}
    assert due.remind_day.tolist() == [125, 55]


def test_aggregation_per_customer_and_product() -> None:
    h = purchases((2, 0, 50, 1), (1, 0, 10, 2), (1, 0, 70, 3), (1, 1, 5, 1), (1, 0, 40, 1))
    assert h.customer.tolist() == [1, 2, 1] and h.product.tolist() == [0, 0, 1]
    assert h.first_day.tolist() == [10, 50, 5] and h.last_day.tolist() == [70, 50, 5]
    assert (
        h.days.tolist() == [3, 1, 1] and h.units.tolist() == [6, 1, 1] and h.last_units.tolist() == [3, 1, 1]
    )


def test_cycle_estimated_from_repeat_buyers_per_unit() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for customer in range(40):
        day = int(rng.integers(0, 30))
        for _ in range(4):
            units = int(rng.integers(1, 3))
            rows.append((customer, 0, day, units))
            day += units * 60 + int(rng.integers(-5, 6))  # 60 days per unit, give or take
    rows += [(100, 1, 0, 1), (100, 1, 30, 1)]  # one repeat buyer of product 1: not enough
    rows += [(101, 2, 0, 1)]  # never bought again
    cycles, buyers = estimate_cycles(purchases(*rows), 3, min_buyers=5)
    assert cycles[0] == pytest.approx(60, abs=2)
    assert buyers.tolist() == [40, 1, 0]
    assert np.isnan(cycles[1]) and np.isnan(cycles[2])


def test_a_stockpiler_does_not_move_the_median() -> None:
    rows = [(c, 0, d, 1) for c in range(5) for d in (0, 30, 60)]
    rows += [(9, 0, 0, 1), (9, 0, 1, 1), (9, 0, 2, 1), (9, 0, 3, 1)]  # bought daily, four times
    cycles, buyers = estimate_cycles(purchases(*rows), 1, min_buyers=3)
    assert cycles[0] == 30.0 and buyers[0] == 6


def test_settings_win_over_estimates_product_over_category() -> None:
    cycles, origin = resolve_cycles(
        ["serum", "toner", "mask", "gift"],
        ["精华", "爽肤水", "面膜", None],
        np.array([40.0, 50.0, 25.0, np.nan]),
        by_product={"serum": 90},
        by_category={"精华": 60, "爽肤水": 45},
    )
    assert cycles[:3].tolist() == [90.0, 45.0, 25.0] and np.isnan(cycles[3])
    assert origin == ["product", "category", "estimated", None]


def test_bad_input_is_refused() -> None:
    one = np.ones(1, dtype=np.int64)
    with pytest.raises(ValidationFailed) as zero:
        ProductHistory(one, one, one, one, one, one, one * 0)
    assert zero.value.field == "quantity"
    with pytest.raises(ValidationFailed) as length:
        ProductHistory(one, one, one, one, one, one, np.ones(2, dtype=np.int64))
    assert length.value.field == "purchases"
    with pytest.raises(ValidationFailed) as remind:
        due_dates(purchases((1, 0, 1, 1)), np.array([5.0]), today=0, remind_days=-1)
    assert remind.value.field == "remind_days"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-1e3, 1e3)), min_size=1, max_size=40))
def test_group_medians_equal_numpy_per_group(pairs: list[tuple[int, float]]) -> None:
    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs])
    keys, medians, counts = group_medians(groups, values)
    for key, median, count in zip(keys, medians, counts, strict=True):
        mine = values[groups == key]
        assert count == mine.shape[0] and median == pytest.approx(np.median(mine))
