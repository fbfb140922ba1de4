"""Who enters a journey and when, as pure functions for the runner: does an event start a run, is the
customer allowed (re-entry policy), when does a date trait or a schedule fire next.

Start keys (the `Start.key` the runner should use, so that a trigger seen twice starts one run):
event `event:{message_id}`, segment `segment:{segment_id}:{entered|exited}:{customer}:{event key}`,
date trait `date:{trait}:{local fire date}`, schedule `schedule:{fire time ISO}`, manual `manual:{request}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from siyu.messaging.localtime import at_local, aware_utc, local_date, zone

from . import cron
from .filters import matches
from .triggers import (
    DateTraitTrigger,
    EventTrigger,
    ReentryAfter,
    ReentryAlways,
    ReentryNever,
    ScheduleTrigger,
    SegmentEnteredTrigger,
    SegmentExitedTrigger,
)

SEGMENT_ENTERED = "Segment Entered"  # system events written by siyu.segments, property `segment_id`
SEGMENT_EXITED = "Segment Exited"


def event_starts(trigger: object, name: str, properties: Mapping[str, Any]) -> bool:
    """Does the event (`name`, `properties`) start a run through `trigger`?"""
    if isinstance(trigger, EventTrigger):
        return name == trigger.event and matches(trigger.where, properties)
    if isinstance(trigger, SegmentEnteredTrigger | SegmentExitedTrigger):
        wanted = SEGMENT_ENTERED if isinstance(trigger, SegmentEnteredTrigger) else SEGMENT_EXITED
        return name == wanted and _same_id(properties.get("segment_id"), trigger.segment_id)
    return False


def _same_id(value: Any, wanted: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == wanted
    return isinstance(value, str) and value.strip().isdecimal() and int(value) == wanted


def may_enter(
    reentry: ReentryNever | ReentryAfter | ReentryAlways,
    *,
    last_entered_at: datetime | None,
    has_active_run: bool,
    now: datetime,
) -> bool:
    """Re-entry policy: `never` once ever; `after_days` when no run is active and enough days passed;
    `always` every time (runs may overlap). A run waiting only for its goal does not count as active."""
    if isinstance(reentry, ReentryAlways):
        return True
    if last_entered_at is None:
        return not has_active_run
    if isinstance(reentry, ReentryNever) or has_active_run:
        return False
    return aware_utc(now) - aware_utc(last_entered_at) >= timedelta(days=reentry.days)


def _as_date(value: Any, tz: ZoneInfo) -> date | None:
    if isinstance(value, datetime):
        return local_date(aware_utc(value), tz) if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _as_date(parsed, tz)
    return None


def _in_year(day: date, year: int) -> date:
    if day.month == 2 and day.day == 29:
        try:
            return day.replace(year=year)
        except ValueError:
            return date(year, 2, 28)
    return day.replace(year=year)


def date_trait_fires_at(
    trigger: DateTraitTrigger, value: Any, timezone: str, after: datetime
) -> datetime | None:
    """The first fire time after `after` for a customer whose trait holds `value` (a date, a datetime, or
    ISO text), in the customer's zone; None if the value is not a date or (not annual) already passed."""
    tz = zone(timezone)
    day = _as_date(value, tz)
    if day is None:
        return None
    after = aware_utc(after, "after")
    shift = timedelta(days=trigger.offset_days)
    if not trigger.annual:
        fire = at_local(day + shift, trigger.at, tz)
        return fire if fire > after else None
    year = local_date(after, tz).year
    for candidate_year in range(year - 1, year + 3):
        fire = at_local(_in_year(day, candidate_year) + shift, trigger.at, tz)
        if fire > after:
            return fire
    return None  # pragma: no cover (some year ahead always fires)


def schedule_fires_at(trigger: ScheduleTrigger, after: datetime, brand_timezone: str) -> datetime:
    """The next cron fire time after `after`, in the trigger's zone (default: the brand zone)."""
    return cron.parse(trigger.cron).next_after(after, zone(trigger.timezone or brand_timezone))
