"""Pure RFM scoring: scores in range, monotonic, tie-safe, deterministic; quintiles balanced; tiers total."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.rfm import scoring
from siyu.rfm.scoring import CutPoints

values = st.lists(st.integers(0, 2000), min_size=1, max_size=300)


def _arr(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(values, st.randoms(use_true_random=False))
def test_quintile_scores_are_in_range_monotonic_tie_safe_and_order_free(xs: list[int], rnd: object) -> None:
    x = _arr(xs)
    cuts = scoring.quintile_cuts(x, x, x)
    scored = scoring.score_all(x, x, x, cuts)
    for s in (scored.r, scored.f, scored.m):
        assert s.min() >= 1 and s.max() <= 5
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(scored.f[order]) >= 0)  # more orders never lowers F
    assert np.all(np.diff(scored.m[order]) >= 0)
    assert np.all(np.diff(scored.r[order]) <= 0)  # more days since the last order never raises R
    for value in np.unique(x):  # a tie is never split
        assert len(set(scored.f[x == value].tolist())) == 1
        assert len(set(scored.r[x == value].tolist())) == 1
    shuffled = list(range(len(xs)))
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    y = x[shuffled]
    again = scoring.score_all(y, y, y, scoring.quintile_cuts(y, y, y))
    assert scoring.quintile_cuts(y, y, y) == cuts
    assert np.array_equal(again.f, scored.f[shuffled]) and np.array_equal(again.r, scored.r[shuffled])
    assert np.array_equal(again.tier, scored.tier[shuffled])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=5, max_size=400, unique=True))
def test_distinct_values_split_into_five_even_quintiles(xs: list[int]) -> None:
    x = _arr(xs)
    cuts = scoring.quintile_cuts(x, x, x)
    scored = scoring.score_all(x, x, x, cuts)
    n = len(xs)
    for s in (scored.r, scored.f, scored.m):
        counts = np.bincount(s, minlength=6)[1:]
        assert all(abs(int(c) - n / 5) <= 1 for c in counts), counts
    assert np.array_equal(scored.r, 6 - scored.f)  # recency is frequency's mirror image


@settings(max_examples=100, deadline=None)
@given(values, st.integers(2, 5))
def test_tier_follows_high_and_low_scores(xs: list[int], high: int) -> None:
    x = _arr(xs)
    scored = scoring.score_all(x, x[::-1], x, scoring.quintile_cuts(x, x[::-1], x), high_score=high)
    for r, f, m, tier in zip(scored.r, scored.f, scored.m, scored.tier, strict=True):
        assert tier == scoring.tier_of(int(r), int(f), int(m), high_score=high)
        assert tier.startswith("important_") == (m >= high)


def test_every_combination_of_high_and_low_has_its_own_tier() -> None:
    seen = {}
    for r, f, m in itertools.product((1, 5), repeat=3):
        seen[(r, f, m)] = scoring.tier_of(r, f, m)
    assert sorted(seen.values()) == sorted(scoring.TIERS)
    assert seen[(5, 5, 5)] == "important_value"
    assert seen[(5, 1, 5)] == "important_develop"
    assert seen[(1, 5, 5)] == "important_retain"
    assert seen[(1, 1, 5)] == "important_win_back"
    assert seen[(5, 5, 1)] == "general_value"
    assert seen[(5, 1, 1)] == "general_develop"
    assert seen[(1, 5, 1)] == "general_retain"
    assert seen[(1, 1, 1)] == "general_win_back"
    assert scoring.tier_label("important_value") == "重要价值"
    assert scoring.tier_label("general_win_back") == "一般挽留"
    assert scoring.tier_label(None) is None


def test_ties_at_the_bottom_do_not_make_everyone_high() -> None:
    # 60 % bought once: they share one score, below the high cut; repeat buyers score high.
    f = _arr([1] * 60 + [2] * 20 + [3] * 10 + [4] * 5 + [9] * 5)
    cuts = scoring.quintile_cuts(f, f, f)
    assert cuts.frequency == [1, 2, 2, 3]
    scored = scoring.score_all(f, f, f, cuts)
    assert {int(s) for s in scored.f[f == 1]} == {2}
    assert {int(s) for s in scored.f[f == 2]} == {4}
    assert {int(s) for s in scored.f[f >= 3]} == {5}


def test_operator_thresholds() -> None:
    cuts = CutPoints.from_dict(
        {"recency_days": [180, 90, 60, 30], "frequency": [2, 3, 5, 8], "monetary": [100, 200, 300, 400]}
    )
    days = _arr([0, 30, 31, 60, 90, 180, 181])
    assert scoring.score(days, cuts.recency_days, higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 2, 1]
    orders = _arr([1, 2, 3, 4, 5, 7, 8, 100])
    assert scoring.score(orders, cuts.frequency, higher_is_better=True).tolist() == [1, 2, 3, 3, 4, 4, 5, 5]


def test_unreachable_scores_are_null_cut_points() -> None:
    x = _arr([7] * 10)
    cuts = scoring.quintile_cuts(x, x, x)
    assert cuts.frequency == [7, 7, None, None]  # everyone ties: percentile ½ → score 3
    assert set(scoring.score_all(x, x, x, cuts).f.tolist()) == {3}
    assert CutPoints.from_dict(cuts.as_dict()) == cuts
    assert scoring.quintile_cuts(_arr([]), _arr([]), _arr([])).frequency == [None] * 4


@pytest.mark.parametrize(
    "bad",
    [
        {"recency_days": [30, 60, 90, 180], "frequency": [1, 2, 3, 4], "monetary": [1, 2, 3, 4]},
        {"recency_days": [180, 90, 60, 30], "frequency": [1, 3, 2, 4], "monetary": [1, 2, 3, 4]},
        {"recency_days": [180, 90, 60], "frequency": [1, 2, 3, 4], "monetary": [1, 2, 3, 4]},
        {"recency_days": [180, 90, 60, 30], "frequency": [1, None, 3, None], "monetary": [1, 2, 3, 4]},
        {"frequency": [1, 2, 3, 4], "monetary": [1, 2, 3, 4]},
    ],
)
def test_bad_cut_points_are_refused(bad: dict[str, list[float | None]]) -> None:
    with pytest.raises(ValueError):
        CutPoints.from_dict(bad)
