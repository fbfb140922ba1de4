"""The pure calendar core of time re-checks: for every rule, `next_change` is exactly the first later day on
which the membership (computed day by day, independently) flips; windows and anniversaries by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.segments import windows
from siyu.segments.conditions import Between, LastDays

TODAY = date(2026, 11, 1)


def _member(rule: str, days: int, key: date, day: date) -> bool:
    """Membership on `day`, written from the definitions in docs/segments.md."""
    if rule == "window":  # the oldest counted day is still inside the last `days` days
        return key >= day - timedelta(days=days - 1)
    if rule == "within_last_days":
        return day - timedelta(days=days - 1) <= key <= day
    if rule == "before_days_ago":
        return key <= day - timedelta(days=days)
    if rule == "within_next_days":
        return day <= key <= day + timedelta(days=days)
    raise AssertionError(rule)


@settings(max_examples=150, deadline=None)
@given(
    rule=st.sampled_from(["window", "within_last_days", "before_days_ago", "within_next_days"]),
    days=st.integers(1, 40),
    offset=st.integers(-60, 60),
)
def test_next_change_is_the_first_flip(rule: str, days: int, offset: int) -> None:
    key = TODAY + timedelta(days=offset)
    now_in = _member(rule, days, key, TODAY)
    flip = next(
        (
            TODAY + timedelta(days=i)
            for i in range(1, 200)
            if _member(rule, days, key, TODAY + timedelta(days=i)) != now_in
        ),
        None,
    )
    if rule == "window" and not now_in:
        flip = None  # a day that left the window is no longer the oldest counted one: nothing to re-check
    assert windows.next_change(rule, days, key.isoformat(), TODAY) == flip


@settings(max_examples=200, deadline=None)
@given(days=st.integers(0, 30), month_day=st.dates(date(2024, 1, 1), date(2024, 12, 31)))
def test_anniversaries_flip_when_the_birthday_enters_or_passes(days: int, month_day: date) -> None:
    key = f"{month_day.month:02d}-{month_day.day:02d}"
    inside = [key in windows.anniversary_days(TODAY + timedelta(days=i), days) for i in range(0, 800)]
    first = next((TODAY + timedelta(days=i) for i in range(1, 800) if inside[i] != inside[0]), None)
    assert windows.next_change("anniversary_within_days", days, key, TODAY) == first


def test_anniversary_days_wrap_the_year_and_keep_leap_days() -> None:
    assert windows.anniversary_days(date(2026, 12, 29), 4) == {"12-29", "12-30", "12-31", "01-01", "01-02"}
    assert "02-29" in windows.anniversary_days(date(2027, 2, 25), 7)  # 2027 has no 29 February
    assert "02-29" not in windows.anniversary_days(date(2028, 2, 20), 7)  # 2028 has one, 9 days away
    assert windows.anniversary_days(TODAY, 0) == {"11-01"}


def test_windows_are_brand_local_days() -> None:
    now = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 November in Shanghai
    day = windows.today(now)
    assert day == date(2026, 11, 2)
    assert windows.window_days(LastDays(last_days=7), day) == (date(2026, 10, 27), None)
    assert windows.window_instants(LastDays(last_days=1), day) == (
        datetime(2026, 11, 1, 16, 0, tzinfo=UTC),
        None,
    )
    between = Between(between=(date(2026, 11, 1), date(2026, 11, 1)))
    assert windows.window_instants(between, day) == (
        datetime(2026, 10, 31, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 16, 0, tzinfo=UTC),
    )
