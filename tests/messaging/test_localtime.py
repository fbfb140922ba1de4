"""Local wall-clock arithmetic across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from siyu.core.errors import ValidationFailed
from siyu.messaging.localtime import (
    at_local,
    day_start,
    in_window,
    next_day_start,
    next_local_time,
    next_week_start,
    week_start,
    window_end,
    zone,
)

NY = zone("America/New_York")
SH = zone("Asia/Shanghai")


def test_a_time_in_the_spring_forward_gap_moves_forward() -> None:
    # 2024-03-10 02:30 does not exist in New York: it becomes 03:30 EDT = 07:30 UTC
    assert at_local(date(2024, 3, 10), time(2, 30), NY) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_an_ambiguous_time_is_its_first_occurrence() -> None:
    # 2024-11-03 01:30 happens twice in New York; the first is EDT (UTC-4)
    assert at_local(date(2024, 11, 3), time(1, 30), NY) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_next_local_time_is_strictly_after_unless_inclusive() -> None:
    nine = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert next_local_time(nine, time(9), SH) == datetime(2024, 5, 2, 1, 0, tzinfo=UTC)
    assert next_local_time(nine, time(9), SH, inclusive=True) == nine
    assert next_local_time(nine, time(10), SH) == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def test_days_and_weeks_are_local_and_23_or_25_hours_long_at_dst() -> None:
    noon = datetime(2024, 3, 10, 16, 0, tzinfo=UTC)  # noon EDT on the short day
    assert next_day_start(noon, NY) - day_start(noon, NY) == datetime(2024, 1, 1, 23, tzinfo=UTC) - datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert week_start(noon, NY) == datetime(2024, 3, 4, 5, 0, tzinfo=UTC)  # Monday 00:00 EST
    assert next_week_start(noon, NY) == datetime(2024, 3, 11, 4, 0, tzinfo=UTC)  # Monday 00:00 EDT


def test_windows_crossing_midnight() -> None:
    late = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)  # 22:30 Shanghai
    assert in_window(late, time(21), time(9), SH)
    assert window_end(late, time(21), time(9), SH) == datetime(2024, 5, 2, 1, 0, tzinfo=UTC)
    assert not in_window(late, time(9), time(21), SH)
    assert window_end(late, time(9), time(21), SH) is None
    assert not in_window(late, time(3), time(3), SH)


def test_unknown_zone_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as err:
        zone("Mars/Olympus_Mons")
    assert err.value.field == "timezone"
