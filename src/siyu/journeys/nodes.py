"""Journey graph nodes: waits, branches, A/B splits, sends, tags, traits, advisor tasks, webhooks, exits.

Each node has an `id` and names its successors (`next`, or one field per branch). Stored `type` strings
never change. `targets()` lists (field, node id) pairs for graph checks; `WAITING` nodes block on time.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from siyu.messaging.policy import Purpose

from .conditions import check_condition
from .filters import PropertyFilter

NodeId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$", description="Unique in the journey")
]
MAX_WAIT = timedelta(days=400)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(_Model):
    """A positive span: days + hours + minutes (absolute time, so a DST day still waits 24 hours)."""

    days: int = Field(0, ge=0, le=400)
    hours: int = Field(0, ge=0, le=400 * 24)
    minutes: int = Field(0, ge=0, le=400 * 24 * 60)

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)

    @model_validator(mode="after")
    def _positive(self) -> Duration:
        if not timedelta(0) < self.delta <= MAX_WAIT:
            raise ValueError(f"a duration must be more than 0 and at most {MAX_WAIT.days} days")
        return self


class DurationDelay(Duration):
    type: Literal["duration"] = "duration"


class TimeOfDayDelay(_Model):
    """Until the next time the customer's clock shows `at` (strictly later than now)."""

    type: Literal["time_of_day"] = "time_of_day"
    at: time

    @field_validator("at")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError("give a local time as HH:MM, without seconds or a zone")
        return value


Delay = Annotated[DurationDelay | TimeOfDayDelay, Field(discriminator="type")]


class DropAfter(_Model):
    """Drop the message if the governor cannot send it within `hours` of the step that created it."""

    type: Literal["drop_after"] = "drop_after"
    hours: int = Field(ge=1, le=24 * 60)


class DeferFreely(_Model):
    """Never expires: the governor defers it as long as needed (up to its max_defer_days)."""

    type: Literal["defer"] = "defer"


Expiry = Annotated[DropAfter | DeferFreely, Field(discriminator="type")]


class _Node(_Model):
    id: NodeId
    label: str | None = Field(None, max_length=200, description="Shown to operators, e.g. 发送欢迎语")
    WAITING: ClassVar[bool] = False

    def targets(self) -> list[tuple[str, str]]:
        return [("next", getattr(self, "next"))]  # noqa: B009 (not every node has `next`)


class WaitNode(_Node):
    type: Literal["wait"] = "wait"
    delay: Delay
    next: NodeId
    WAITING: ClassVar[bool] = True


class WaitEventNode(_Node):
    """Wait for `event` (matching `where`) until `timeout`: `on_event` or `on_timeout`."""

    type: Literal["wait_event"] = "wait_event"
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    timeout: Duration
    on_event: NodeId
    on_timeout: NodeId
    WAITING: ClassVar[bool] = True

    def targets(self) -> list[tuple[str, str]]:
        return [("on_event", self.on_event), ("on_timeout", self.on_timeout)]


class ConditionNode(_Node):
    """Branch on a condition tree in the segment condition language (see `conditions`)."""

    type: Literal["condition"] = "condition"
    condition: dict[str, Any]
    yes: NodeId
    no: NodeId

    @field_validator("condition")
    @classmethod
    def _valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_condition(value)

    def targets(self) -> list[tuple[str, str]]:
        return [("yes", self.yes), ("no", self.no)]


class Variant(_Model):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[^\s]+$")
    weight: int = Field(ge=1, le=10_000)
    next: NodeId


class SplitNode(_Node):
    """Random A/B/n split by weight, assigned by hash(journey, node, customer): the same customer always
    gets the same variant. `holdout_percent` of customers get no treatment and leave the path."""

    type: Literal["split"] = "split"
    variants: list[Variant] = Field(min_length=1, max_length=10)
    holdout_percent: float = Field(0, ge=0, le=90)

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, value: list[Variant]) -> list[Variant]:
        names = [v.name for v in value]
        if len(set(names)) != len(names) or "holdout" in names:
            raise ValueError("variant names must be unique and not 'holdout'")
        return value

    def targets(self) -> list[tuple[str, str]]:
        return [(f"variants[{i}].next", v.next) for i, v in enumerate(self.variants)]


class SendNode(_Node):
    type: Literal["send"] = "send"
    channel: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="wecom, sms_aliyun, email, webhook…")
    template_id: str = Field(min_length=1, max_length=100)
    purpose: Purpose = "marketing"
    priority: Literal["normal", "urgent"] = Field(
        "normal", description="urgent: service may break quiet hours"
    )
    expiry: Expiry = Field(default_factory=lambda: DropAfter(hours=24))
    mass: bool = Field(False, description="WeCom mass send (add_msg_template): one per customer per day")
    coupon_pool: str | None = Field(None, max_length=100, description="Runner draws `coupon.code` from it")
    next: NodeId


class TagNode(_Node):
    type: Literal["tag"] = "tag"
    action: Literal["add", "remove"] = "add"
    tag_id: int = Field(ge=1)
    next: NodeId


class UpdateTraitNode(_Node):
    """Set trait `trait` to `value` (JSON); `null` removes it."""

    type: Literal["update_trait"] = "update_trait"
    trait: str = Field(min_length=1, max_length=100)
    value: str | int | float | bool | list[Any] | dict[str, Any] | None
    next: NodeId


class TaskNode(_Node):
    """An advisor task due in `sla_hours`: `done` when completed in time, else `not_done_in_time`."""

    type: Literal["task"] = "task"
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    assignee: Literal["owner", "staff"] = Field("owner", description="owner = the customer's advisor")
    staff_id: int | None = Field(None, ge=1, description="assignee=staff: who; owner: fallback if none")
    sla_hours: int = Field(ge=1, le=24 * 30)
    done: NodeId
    not_done_in_time: NodeId
    WAITING: ClassVar[bool] = True

    @model_validator(mode="after")
    def _staff_named(self) -> TaskNode:
        if self.assignee == "staff" and self.staff_id is None:
            raise ValueError("assignee=staff needs a staff_id")
        return self

    def targets(self) -> list[tuple[str, str]]:
        return [("done", self.done), ("not_done_in_time", self.not_done_in_time)]


class WebhookNode(_Node):
    type: Literal["webhook"] = "webhook"
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")
    body: dict[str, Any] = Field(default_factory=dict, description="Static JSON merged into the payload")
    next: NodeId


class ExitNode(_Node):
    type: Literal["exit"] = "exit"
    reason: str = Field("completed", min_length=1, max_length=100)

    def targets(self) -> list[tuple[str, str]]:
        return []


Node = Annotated[
    WaitNode
    | WaitEventNode
    | ConditionNode
    | SplitNode
    | SendNode
    | TagNode
    | UpdateTraitNode
    | TaskNode
    | WebhookNode
    | ExitNode,
    Field(discriminator="type"),
]
