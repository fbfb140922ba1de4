"""Cron parsing errors and next fire times, across DST; a brute-force minute scan agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.journeys.cron import CronError, parse
from siyu.messaging.localtime import zone

SH, NY = zone("Asia/Shanghai"), zone("America/New_York")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "needs 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("5-1 * * * *", "range '5-1' goes backwards"),
        ("*/0 * * * *", "minute step: 0 is outside"),
        ("x * * * *", "minute: 'x' is not a number"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse(expression)


def test_names_macros_and_sunday_as_seven() -> None:
    assert parse("0 10 * jan-mar mon,fri").weekdays == {0, 4}
    assert parse("0 10 * * 7").weekdays == parse("0 10 * * 0").weekdays == {6}
    assert parse("@weekly").weekdays == {6} and parse("@hourly").minutes == {0}
    assert parse("0 0 31 1,3 *").days == {31}  # fires in January and March
    assert parse("0 0 29 2 *").next_after(datetime(2025, 1, 1, tzinfo=UTC), zone("UTC")) == datetime(
        2028, 2, 29, tzinfo=UTC
    )


def test_weekly_broadcast_in_brand_zone() -> None:
    monday_ten = parse("0 10 * * 1")
    after = datetime(2024, 5, 1, tzinfo=UTC)  # a Wednesday
    assert monday_ten.next_after(after, SH) == datetime(2024, 5, 6, 2, 0, tzinfo=UTC)
    assert monday_ten.next_after(datetime(2024, 5, 6, 2, 0, tzinfo=UTC), SH) == datetime(
        2024, 5, 13, 2, tzinfo=UTC
    )


def test_day_of_month_or_day_of_week_when_both_are_given() -> None:
    cron = parse("0 9 1 * fri")  # the 1st of the month, or any Friday
    fires, t = [], datetime(2024, 5, 1, tzinfo=UTC)
    for _ in range(4):
        t = cron.next_after(t, zone("UTC"))
        fires.append(t.day)
    assert fires == [1, 3, 10, 17]
    every_other_day_on_friday = parse("0 9 */2 * fri")  # `*/2` is unrestricted: both must hold
    assert every_other_day_on_friday.next_after(datetime(2024, 5, 1, tzinfo=UTC), zone("UTC")).day == 3


def test_dst_gap_fires_once_at_the_shifted_time_and_overlap_fires_once() -> None:
    daily = parse("30 2 * * *")
    spring = daily.next_after(datetime(2024, 3, 9, 12, tzinfo=UTC), NY)
    assert spring == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)  # 02:30 does not exist: 03:30 EDT
    assert daily.next_after(spring, NY) == datetime(2024, 3, 11, 6, 30, tzinfo=UTC)
    fall = parse("30 1 * * *").next_after(datetime(2024, 11, 2, 12, tzinfo=UTC), NY)
    assert fall == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # first 01:30 (EDT)
    assert parse("30 1 * * *").next_after(fall, NY) == datetime(2024, 11, 4, 6, 30, tzinfo=UTC)


fields = st.tuples(
    st.sampled_from(["*", "0", "*/15", "5,35", "10-20/5"]),
    st.sampled_from(["*", "9", "*/6", "8-10", "23"]),
    st.sampled_from(["*", "1", "15", "*/10", "28-31"]),
    st.sampled_from(["*", "2", "jan,jul", "*/3"]),
    st.sampled_from(["*", "mon", "0", "1-5", "sat,sun"]),
)


@settings(max_examples=60, deadline=None)
@given(parts=fields, start=st.integers(0, 365 * 24 * 60))
def test_next_after_agrees_with_a_minute_by_minute_scan_in_utc(parts: tuple[str, ...], start: int) -> None:
    cron = parse(" ".join(parts))
    after = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=start)
    found = cron.next_after(after, zone("UTC"))
    assert found > after and found.second == 0
    t = found.replace(tzinfo=None)
    assert t.minute in cron.minutes and t.hour in cron.hours and cron.day_matches(t.date())
    # nothing fires between `after` and `found` (checked on whole days then minutes, to stay fast)
    probe = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < found:
        p = probe.replace(tzinfo=None)
        if not cron.day_matches(p.date()):
            probe = (probe + timedelta(days=1)).replace(hour=0, minute=0)
            continue
        assert not (p.hour in cron.hours and p.minute in cron.minutes), probe
        probe += timedelta(minutes=1)
