"""Cell parsing: brand-zone timestamps, exact money, quantities, JSON objects, JSON-safe values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from siyu.core.errors import ValidationFailed
from siyu.imports.values import json_object, money, parse_when, plain, quantity, text

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
        ("2024-05-01 10:30", datetime(2024, 5, 1, 2, 30, tzinfo=UTC)),
        ("2024-05-01 10:30:15", datetime(2024, 5, 1, 2, 30, 15, tzinfo=UTC)),
        ("2024/5/1 9:05", datetime(2024, 5, 1, 1, 5, tzinfo=UTC)),
        ("2024-05-01 10:30:00.250000", datetime(2024, 5, 1, 2, 30, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T10:30:00Z", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00+09:00", datetime(2024, 5, 1, 1, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00", datetime(2024, 5, 1, 2, 30, tzinfo=UTC)),
    ],
)
def test_times_naive_in_brand_zone_or_with_their_offset(raw: str, expected: datetime) -> None:
    assert parse_when(raw, SHANGHAI, "date") == expected


def test_naive_time_follows_the_zone_given() -> None:
    assert parse_when("2024-01-01 00:00", ZoneInfo("Europe/Paris"), "date") == datetime(
        2023, 12, 31, 23, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("raw", ["yesterday", "2024-13-01", "2024-02-30 10:00", "45123", "0001-01-01", ""])
def test_bad_times_name_the_column(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_when(raw, SHANGHAI, "下单时间")
    assert err.value.field == "下单时间"
    assert "下单时间" in err.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19.90", "19.90"),
        (" ¥1,299.00 ", "1299.00"),
        ("￥12", "12"),
        ("-3.5", "-3.5"),
        (Decimal("0.10"), "0.10"),
        (7, "7"),
    ],
)
def test_money_stays_an_exact_decimal_string(raw: object, expected: str) -> None:
    assert money(raw, "price") == expected


@pytest.mark.parametrize("raw", ["abc", "1,2,3", "12,34", "NaN", "Infinity", ""])
def test_bad_money_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        money(raw, "单价")
    assert err.value.field == "单价"


def test_quantity_is_a_whole_number() -> None:
    assert quantity("2", "qty") == "2"
    assert quantity("3.0", "qty") == "3"
    for bad in ("1.5", "-1", "two"):
        with pytest.raises(ValidationFailed):
            quantity(bad, "qty")


def test_text_keeps_leading_zeros_and_big_ids() -> None:
    assert text(" 013912345678 ") == "013912345678"
    assert text(123456789012345678901234567890) == "123456789012345678901234567890"
    assert text("   ") is None
    with pytest.raises(ValidationFailed):
        text({"a": 1}, "user_id")


def test_plain_values_are_json_safe_and_money_never_float() -> None:
    assert plain(Decimal("19.90"), "price") == "19.90"
    assert plain(Decimal("4.5"), "rating") == 4.5
    assert plain(2**70) == str(2**70)
    assert plain({"total": Decimal("1.10"), "tags": ["a", 1]}) == {"total": "1.10", "tags": ["a", 1]}


def test_json_object_cells() -> None:
    assert json_object('{"plan": "gold", "total": 19.90}', "properties") == {"plan": "gold", "total": "19.90"}
    assert json_object(None, "properties") == {}
    for bad in ("[1, 2]", "{not json", '"text"'):
        with pytest.raises(ValidationFailed) as err:
            json_object(bad, "properties")
        assert err.value.field == "properties"
