"""Brand-local calendar math for conditions (pure, no I/O): windows as days and UTC instants, date-trait
memberships, and the next day on which a time-relative condition can change for a given key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from siyu.core.settings import get_settings
from siyu.segments.conditions import Between, LastDays

HORIZON_DAYS = 2  # full-rebuild re-checks cover changes up to 2 days ahead; the daily job adds each new day


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    return _zone(get_settings().timezone)


def today(now: datetime) -> date:
    """The brand-local day of `now` (the same day rollups use)."""
    return now.astimezone(zone()).date()


def midnight(day: date) -> datetime:
    """The UTC instant at which brand-local `day` starts."""
    return datetime.combine(day, time(0), tzinfo=zone()).astimezone(UTC)


def window_days(window: LastDays | Between, day: date) -> tuple[date, date | None]:
    """First and last local day of a window (`None`: open-ended, so activity dated ahead still counts)."""
    if isinstance(window, LastDays):
        return day - timedelta(days=window.last_days - 1), None
    return window.between[0], window.between[1]


def window_instants(window: LastDays | Between, day: date) -> tuple[datetime, datetime | None]:
    """The same window as UTC instants [start, end)."""
    first, last = window_days(window, day)
    return midnight(first), None if last is None else midnight(last + timedelta(days=1))


def date_bounds(op: str, days: int, day: date) -> tuple[date | None, date | None]:
    """Inclusive [low, high] of a date trait for the relative operators (not anniversaries)."""
    if op == "within_last_days":
        return day - timedelta(days=days - 1), day
    if op == "before_days_ago":
        return None, day - timedelta(days=days)
    if op == "within_next_days":
        return day, day + timedelta(days=days)
    raise ValueError(op)


def _mmdd(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@lru_cache(maxsize=1024)
def anniversary_days(day: date, days: int) -> frozenset[str]:
    """Month-days ("MM-DD") falling within `days` days from `day` (today included). A 29 February
    anniversary is kept on 28 February in other years."""
    out: set[str] = set()
    for offset in range(days + 1):
        current = day + timedelta(days=offset)
        out.add(_mmdd(current))
        if current.month == 2 and current.day == 28 and not _leap(current.year):
            out.add("02-29")
    return frozenset(out)


def _parse(key: str) -> date | None:
    try:
        return date.fromisoformat(key[:10])
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _anniversary_changes(day: date, days: int) -> dict[str, date]:
    """For every month-day: the first later day its anniversary membership flips."""
    horizon = 367 + days
    members = [anniversary_days(day + timedelta(days=i), days) for i in range(horizon + 1)]
    out: dict[str, date] = {}
    for key in {_mmdd(date(2024, 1, 1) + timedelta(days=i)) for i in range(366)}:
        now_in = key in members[0]
        for i in range(1, horizon + 1):
            if (key in members[i]) != now_in:
                out[key] = day + timedelta(days=i)
                break
    return out


def next_change(rule: str, days: int, key: str, day: date) -> date | None:
    """The first local day after `day` on which a condition may change for a customer whose key is `key`.

    Rules: `window` (key = the oldest counted day in a last-N-days window, or the day of the last order:
    it leaves the window after N days), `within_last_days`, `before_days_ago`, `within_next_days` (key = a
    trait's date) and `anniversary_within_days` (key = "MM-DD"). `None`: no change can come from time alone.
    """
    if rule == "anniversary_within_days":
        return _anniversary_changes(day, days).get(key)
    d = _parse(key)
    if d is None:
        return None
    span = timedelta(days=days)
    candidates: list[date]
    if rule in ("window", "before_days_ago"):
        candidates = [d + span]
    elif rule == "within_last_days":
        candidates = [d, d + span]
    elif rule == "within_next_days":
        candidates = [d - span, d + timedelta(days=1)]
    else:
        raise ValueError(rule)
    later = [c for c in candidates if c > day]
    return min(later) if later else None


def candidate_keys(rule: str, days: int, since: date, last: date) -> list[str]:
    """Every key whose first change after `since` can fall on or before `last` (a superset)."""
    if rule == "anniversary_within_days":
        return sorted(_anniversary_changes(since, days))
    first = since - timedelta(days=days + 1)
    end = last + timedelta(days=days + 1)
    return [(first + timedelta(days=i)).isoformat() for i in range((end - first).days + 1)]


def horizon(day: date) -> date:
    """Full rebuilds and the daily job schedule re-checks up to this day; later ones come day by day."""
    return day + timedelta(days=HORIZON_DAYS)
