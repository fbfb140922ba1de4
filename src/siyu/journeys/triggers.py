"""What starts a journey run: an event, entering or leaving a segment, a date trait (birthday, expected
replenish date), a cron schedule over a segment, or a manual/API start. Stored `type` strings never change.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.messaging.localtime import check_zone

from . import cron
from .filters import PropertyFilter

EVENT_NAME = Field(min_length=1, max_length=200, description="Event name as tracked, e.g. `Order Completed`.")


class _Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventTrigger(_Trigger):
    """A tracked event with properties matching every filter, e.g. `Contact Added`."""

    type: Literal["event"] = "event"
    event: str = EVENT_NAME
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class SegmentEnteredTrigger(_Trigger):
    """The customer joined a segment (system event `Segment Entered` with property `segment_id`)."""

    type: Literal["segment_entered"] = "segment_entered"
    segment_id: int = Field(ge=1)


class SegmentExitedTrigger(_Trigger):
    """The customer left a segment (system event `Segment Exited` with property `segment_id`)."""

    type: Literal["segment_exited"] = "segment_exited"
    segment_id: int = Field(ge=1)


class DateTraitTrigger(_Trigger):
    """`offset_days` days from the date in trait `trait`, at `at` in the customer's zone; `annual` for
    dates that recur every year (birthdays: the year in the trait is ignored, 29 Feb → 28 Feb)."""

    type: Literal["date_trait"] = "date_trait"
    trait: str = Field(min_length=1, max_length=100, description="e.g. birthday, expected_replenish_date")
    offset_days: int = Field(0, ge=-366, le=366, description="-15 = fifteen days before the date")
    at: time = Field(time(10, 0), description="Local send time, HH:MM")
    annual: bool = False

    @field_validator("at")
    @classmethod
    def _whole_minutes(cls, value: time) -> time:
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError("give a local time as HH:MM, without seconds or a zone")
        return value


class ScheduleTrigger(_Trigger):
    """Recurring broadcast: every member of `segment_id` enters at each cron fire time."""

    type: Literal["schedule"] = "schedule"
    cron: str = Field(
        min_length=1, max_length=100, description="Five fields, e.g. `0 10 * * 1` (Mondays 10:00)"
    )
    segment_id: int = Field(ge=1)
    timezone: str | None = Field(None, description="Zone the cron is read in; default: the brand zone.")

    @field_validator("cron")
    @classmethod
    def _parses(cls, value: str) -> str:
        cron.parse(value)  # CronError is a ValueError: Pydantic reports it on this field
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class ManualTrigger(_Trigger):
    """Started by an operator or through the API, for one customer or a list."""

    type: Literal["manual"] = "manual"


Trigger = Annotated[
    EventTrigger
    | SegmentEnteredTrigger
    | SegmentExitedTrigger
    | DateTraitTrigger
    | ScheduleTrigger
    | ManualTrigger,
    Field(discriminator="type"),
]


class ReentryNever(_Trigger):
    type: Literal["never"] = "never"


class ReentryAfter(_Trigger):
    """Enter again once `days` have passed since the last entry (and no run of this journey is active)."""

    type: Literal["after_days"] = "after_days"
    days: int = Field(ge=1, le=3650)


class ReentryAlways(_Trigger):
    """Enter at every trigger, even while another run of this journey is active."""

    type: Literal["always"] = "always"


Reentry = Annotated[ReentryNever | ReentryAfter | ReentryAlways, Field(discriminator="type")]


class Goal(BaseModel):
    """Conversion: `event` (matching `where`) within `within_hours` of entering, e.g. `Order Completed`
    within 168 hours. `exit_on_goal`: leave the journey as soon as it is reached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = EVENT_NAME
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    within_hours: int = Field(168, ge=1, le=24 * 366)
    exit_on_goal: bool = True
