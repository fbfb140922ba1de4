"""Five-field cron expressions (minute hour day-of-month month day-of-week) for scheduled journeys:
parse with explicit errors, and find the next fire time in a time zone, DST-correct.

Syntax: `*`, `a`, `a-b`, `*/n`, `a-b/n`, `a/n`, lists `a,b`; month and weekday names (jan, mon); weekday
0-7 (0 and 7 are Sunday); macros @yearly @annually @monthly @weekly @daily @midnight @hourly. As in Vixie
cron, when both day fields are restricted a day matching either one fires. A wall time in a DST gap
fires at the shifted instant; one repeated by a fall-back fires once (its first occurrence).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from siyu.messaging.localtime import at_local, aware_utc, local_date

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # name, low, high, names
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_MAX_DAYS_AHEAD = 366 * 8 + 2  # Feb 29 can be 8 years away (e.g. 2096 -> 2104)


class CronError(ValueError):
    """A cron expression that cannot be parsed or never fires."""


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Monday .. 6 = Sunday (Python's numbering)
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first fire time strictly after `after` (UTC, aware), reading the schedule in `tz`."""
        after = aware_utc(after, "after")
        start = local_date(after, tz) - timedelta(days=1)  # a shifted DST time may fall on the next day
        times = [time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]
        for offset in range(_MAX_DAYS_AHEAD):
            day = start + timedelta(days=offset)
            if not self.day_matches(day):
                continue
            fires = [t for t in (at_local(day, at, tz) for at in times) if t > after]
            if fires:
                return min(fires)
        raise CronError(f"cron {self.expression!r} does not fire within 8 years")  # pragma: no cover


def _value(token: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    token = token.strip().lower()
    if token in names:
        return names[token]
    if not token.isdecimal():
        raise CronError(f"{field}: {token!r} is not a number{' or a name' if names else ''}")
    value = int(token)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int], field: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            step = _value(step_text, 1, high - low + 1, {}, f"{field} step")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, low, high, names, field), _value(b, low, high, names, field)
            if first > last:
                raise CronError(f"{field}: range {base!r} goes backwards")
        else:
            first = _value(base, low, high, names, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


def parse(expression: str) -> Cron:
    """Parse `expression`; CronError names the field at fault, or says the schedule never fires."""
    text = MACROS.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"cron needs 5 fields (minute hour day month weekday), got {len(parts)}")
    sets = [
        _field(part, lo, hi, names, name) for part, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)
    ]
    minutes, hours, days, months, cron_weekdays = sets
    weekdays = frozenset((d - 1) % 7 for d in cron_weekdays)  # cron 0/7 = Sunday -> Python 6
    cron = Cron(
        expression=expression,
        minutes=frozenset(minutes),
        hours=frozenset(hours),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),  # as Vixie cron: `*/2` counts as unrestricted
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if not cron.weekdays_restricted:
        longest = max(calendar.monthrange(2024, m)[1] for m in months)  # 2024: February has 29 days
        if min(days) > longest:
            raise CronError(f"cron {expression!r} never fires: no month in it has day {min(days)}")
    return cron
