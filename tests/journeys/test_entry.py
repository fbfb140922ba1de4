"""Trigger matching, property filters, re-entry policy, date-trait and schedule fire times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from siyu.journeys.entry import date_trait_fires_at, event_starts, may_enter, schedule_fires_at
from siyu.journeys.filters import PropertyFilter, matches
from siyu.journeys.triggers import (
    DateTraitTrigger,
    EventTrigger,
    ManualTrigger,
    ReentryAfter,
    ReentryAlways,
    ReentryNever,
    ScheduleTrigger,
    SegmentExitedTrigger,
)

ORDER = {"total": 268.5, "currency": "CNY", "products": [{"category": "精华", "sku": "S1"}], "vip": True,
         "tags": ["gift", "new"], "note": None}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("total", "gte", 200, True),
        ("total", "lt", 200, False),
        ("total", "eq", "268.5", False),  # no type coercion
        ("products.0.category", "eq", "精华", True),
        ("products.1.category", "eq", "精华", False),
        ("products.1.category", "ne", "精华", True),  # missing counts as "not equal"
        ("currency", "in", ["CNY", "HKD"], True),
        ("currency", "not_in", ["CNY"], False),
        ("tags", "contains", "gift", True),
        ("products.0.sku", "contains", "S", True),
        ("vip", "eq", True, True),
        ("vip", "eq", 1, False),  # booleans are not numbers
        ("vip", "gt", 0, False),
        ("note", "exists", None, False),
        ("note", "not_exists", None, True),
        ("coupon", "exists", None, False),
        ("currency", "gt", "AAA", True),  # text compares as text
    ],
)
def test_property_filters(path: str, op: str, value: Any, expected: bool) -> None:
    f = PropertyFilter.model_validate({"property": path, "op": op, "value": value})
    assert matches([f], ORDER) is expected


def test_event_trigger_with_filter() -> None:
    big = EventTrigger(event="Order Completed", where=[PropertyFilter(property="total", op="gte", value=200)])
    assert event_starts(big, "Order Completed", ORDER)
    assert not event_starts(big, "Order Completed", {"total": 99})
    assert not event_starts(big, "Order Refunded", ORDER)
    left = SegmentExitedTrigger(segment_id=12)
    assert event_starts(left, "Segment Exited", {"segment_id": "12"})
    assert not event_starts(left, "Segment Exited", {"segment_id": True})
    assert not event_starts(ManualTrigger(), "Order Completed", ORDER)


NOW = datetime(2024, 5, 1, tzinfo=UTC)


def test_reentry_policies() -> None:
    never, after, always = ReentryNever(), ReentryAfter(days=7), ReentryAlways()
    assert may_enter(never, last_entered_at=None, has_active_run=False, now=NOW)
    assert not may_enter(never, last_entered_at=NOW - timedelta(days=999), has_active_run=False, now=NOW)
    assert may_enter(after, last_entered_at=NOW - timedelta(days=7), has_active_run=False, now=NOW)
    assert not may_enter(after, last_entered_at=NOW - timedelta(days=6), has_active_run=False, now=NOW)
    assert may_enter(always, last_entered_at=NOW, has_active_run=True, now=NOW)


def test_date_trait_values_and_offsets() -> None:
    before = DateTraitTrigger(trait="expected_replenish_date", offset_days=-15)
    tz = "Asia/Shanghai"
    ten = datetime(2024, 6, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert date_trait_fires_at(before, "2024-06-20", tz, NOW) == ten
    assert date_trait_fires_at(before, date(2024, 6, 20), tz, NOW) == ten
    assert date_trait_fires_at(before, "2024-06-20T20:00:00Z", tz, NOW) == ten + timedelta(
        days=1
    )  # 21st local
    assert date_trait_fires_at(before, "2024-04-20", tz, NOW) is None  # already passed
    assert date_trait_fires_at(before, "someday", tz, NOW) is None
    assert date_trait_fires_at(before, 20240620, tz, NOW) is None


def test_annual_date_trait_next_occurrence() -> None:
    birthday = DateTraitTrigger(trait="birthday", annual=True, offset_days=-1, at="09:30")
    tz = "Europe/Berlin"
    assert date_trait_fires_at(birthday, "1988-05-01", tz, NOW) == datetime(2025, 4, 30, 7, 30, tzinfo=UTC)
    assert date_trait_fires_at(birthday, "1988-12-25", tz, NOW) == datetime(2024, 12, 24, 8, 30, tzinfo=UTC)
    assert date_trait_fires_at(birthday, "1988-01-01", tz, NOW) == datetime(2024, 12, 31, 8, 30, tzinfo=UTC)


def test_schedule_uses_its_zone_or_the_brand_zone() -> None:
    weekly = ScheduleTrigger(cron="0 10 * * 1", segment_id=3)
    assert schedule_fires_at(weekly, NOW, "Asia/Shanghai") == datetime(2024, 5, 6, 2, tzinfo=UTC)
    in_berlin = ScheduleTrigger(cron="0 10 * * 1", segment_id=3, timezone="Europe/Berlin")
    assert schedule_fires_at(in_berlin, NOW, "Asia/Shanghai") == datetime(2024, 5, 6, 8, tzinfo=UTC)
