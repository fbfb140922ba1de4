"""FrequencyData / SpendData checks, and grouping rows into sufficient statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.core.errors import ValidationFailed
from siyu.predict.data import FrequencyData, SpendData, group_codes


@pytest.mark.parametrize(
    ("x", "t_x", "T", "field", "words"),
    [
        ([], [], [], "frequency", "no customers"),
        ([1, 2], [1], [3, 3], "recency", "differ in length"),
        ([-1], [0], [3], "frequency", "negative"),
        ([1], [-0.5], [3], "recency", "negative"),
        ([0], [0], [-2], "T", "negative"),
        ([1.5], [1], [3], "frequency", "whole numbers"),
        ([2], [4], [3], "recency", "later than T"),
        ([0], [1], [3], "recency", "no repeat purchase"),
        ([1], [float("nan")], [3], "recency", "missing"),
        ([1], [1], [float("inf")], "T", "infinite"),
        (["one"], [1], [3], "frequency", "must be numbers"),
    ],
)
def test_frequency_data_refuses_bad_input(
    x: list[object], t_x: list[float], T: list[float], field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        FrequencyData(x, t_x, T)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.message


def test_frequency_data_names_the_customer() -> None:
    with pytest.raises(ValidationFailed, match="recency 5 is later than T 4 for customer #2"):
        FrequencyData([0, 1, 1], [0, 1, 5], [4, 4, 4])


def test_weights_must_match_and_be_positive() -> None:
    with pytest.raises(ValidationFailed, match="weights has 1 values for 2"):
        FrequencyData([0, 1], [0, 1], [2, 2], weight=[1])
    with pytest.raises(ValidationFailed, match="positive"):
        FrequencyData([0, 1], [0, 1], [2, 2], weight=[1, 0])


@pytest.mark.parametrize(
    ("x", "m", "field"),
    [
        ([], [], "frequency"),
        ([0], [5], "frequency"),
        ([1], [0], "monetary_value"),
        ([1, 2], [3], "monetary_value"),
    ],
)
def test_spend_data_refuses_bad_input(x: list[float], m: list[float], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        SpendData(x, m)
    assert caught.value.field == field


def test_grouped_keeps_the_customers() -> None:
    data = FrequencyData([0, 2, 2, 0, 2], [0, 3, 3, 0, 1], [5, 5, 5, 5, 5])
    grouped = data.grouped()
    rows = sorted(zip(grouped.x, grouped.t_x, grouped.T, grouped.weight, strict=True))
    assert rows == [(0, 0, 5, 2), (2, 1, 5, 1), (2, 3, 5, 2)]
    assert grouped.customers == data.customers == 5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from([0.0, 0.5, 1 / 7, 3.0, 1e9])), min_size=1, max_size=60
    ),
    st.booleans(),
)
def test_group_codes_finds_exactly_the_distinct_rows(rows: list[tuple[int, float]], dense: bool) -> None:
    a = np.array([r[0] for r in rows], dtype=np.float64) * (1 if dense else 1.5)  # 1.5: not whole numbers
    b = np.array([r[1] for r in rows])
    representative, inverse, counts = group_codes(a, b)
    assert np.array_equal(a[representative][inverse], a) and np.array_equal(b[representative][inverse], b)
    assert representative.shape[0] == np.unique(np.stack([a, b], axis=1), axis=0).shape[0]
    assert counts.sum() == len(rows)


def test_group_codes_renumbers_instead_of_overflowing() -> None:
    rng = np.random.default_rng(0)
    columns = [rng.random(3000) for _ in range(6)]  # 3000^6 combinations > 2^62
    for c in columns:
        c[:10] = c[10:20]  # ten duplicated rows
    representative, inverse, counts = group_codes(*columns)
    assert representative.shape[0] == 2990 and counts.sum() == 3000
    assert all(np.array_equal(c[representative][inverse], c) for c in columns)
