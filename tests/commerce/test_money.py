"""Money parsing: Decimal in, integer minor units out, never float arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.commerce.money import from_minor, to_minor
from siyu.core.errors import ValidationFailed


def test_minor_units_per_currency() -> None:
    assert to_minor("199.90", "CNY", "total") == 19990
    assert to_minor(0.1, "CNY", "total") + to_minor(0.2, "CNY", "total") == 30
    assert to_minor("1500", "JPY", "total") == 1500
    assert to_minor("1.234", "KWD", "total") == 1234
    assert to_minor("0.125", "CNY", "total") == 12  # half-even


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", True, None, [1], "1e30"])
def test_bad_amounts_name_the_field(bad: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        to_minor(bad, "CNY", "properties.total")
    assert info.value.field == "properties.total"


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2))
def test_round_trip(amount: Decimal) -> None:
    assert from_minor(to_minor(str(amount), "CNY", "x"), "CNY") == amount
