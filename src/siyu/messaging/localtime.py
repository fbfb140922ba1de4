"""Wall-clock arithmetic in a customer's time zone, DST-correct: local days, weeks, times of day.

Rules: a wall time that does not exist (spring-forward gap) moves forward by the gap; an ambiguous one
(fall-back overlap) means its first occurrence. All results are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from siyu.core.errors import ValidationFailed


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; ValidationFailed if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown time zone {name!r}", field="timezone") from exc


def check_zone(name: str) -> str:
    """Validator helper: `name` if it is a known IANA zone, else ValueError (for Pydantic)."""
    try:
        zone(name)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from exc
    return name


def aware_utc(value: datetime, what: str = "time") -> datetime:
    """`value` in UTC; naive datetimes are a programming error here, not silently assumed UTC."""
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return value.astimezone(UTC)


def at_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) when the wall clock in `tz` shows `day` `at`.

    A time in a spring-forward gap is shifted forward by the gap; an ambiguous one is its first occurrence.
    """
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return wall.astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def next_local_time(after: datetime, at: time, tz: ZoneInfo, *, inclusive: bool = False) -> datetime:
    """The first instant after `after` (or at it, if `inclusive`) whose local wall time is `at`."""
    day = local_date(after, tz) - timedelta(days=1)
    for offset in range(4):
        candidate = at_local(day + timedelta(days=offset), at, tz)
        if candidate > after or (inclusive and candidate == after):
            return candidate
    raise AssertionError("unreachable: a wall time recurs within three days")  # pragma: no cover


def day_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Start (UTC) of the local day containing `instant`."""
    return at_local(local_date(instant, tz), time(0), tz)


def next_day_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Start (UTC) of the local day after the one containing `instant`."""
    return at_local(local_date(instant, tz) + timedelta(days=1), time(0), tz)


def week_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Start (UTC) of the local ISO week (Monday 00:00) containing `instant`."""
    day = local_date(instant, tz)
    return at_local(day - timedelta(days=day.weekday()), time(0), tz)


def next_week_start(instant: datetime, tz: ZoneInfo) -> datetime:
    day = local_date(instant, tz)
    return at_local(day + timedelta(days=7 - day.weekday()), time(0), tz)


def in_window(instant: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    """Is the local wall time of `instant` inside [start, end)? The window may cross midnight;
    start == end is an empty window."""
    wall = instant.astimezone(tz).time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def window_end(instant: datetime, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """If `instant` is inside the local window [start, end), the instant the window ends; else None."""
    if not in_window(instant, start, end, tz):
        return None
    return next_local_time(instant, end, tz)


def local_label(instant: datetime, tz: ZoneInfo) -> str:
    """`2024-05-02 09:00 (Asia/Shanghai)`: how a time is shown to operators."""
    return f"{instant.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})"
