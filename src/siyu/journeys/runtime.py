"""The contract between the pure step function and the durable runner: a run's state, the stimuli that
move it (start, event, timer), and the actions it asks for. All JSON-serialisable Pydantic models.

The runner stores `RunState` as JSON, executes each action idempotently by its `key`, and feeds timers
and events back in. Stored `type` strings never change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.messaging.localtime import check_zone
from siyu.messaging.policy import Candidate, Purpose

RunStatus = Literal["pending", "active", "awaiting_goal", "exited"]
MAX_CONSUMED = 64  # stimulus keys remembered per run (stale stimuli are also refused by matching)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Waiting(_Frozen):
    """What an active run is blocked on: a timer (`wait`), an event (`wait_event`) or a task (`task`);
    each has a timer `timer_key` due at `until` (the timeout, or the end of the wait)."""

    node: str
    kind: Literal["timer", "event", "task"]
    since: datetime
    until: datetime
    timer_key: str
    task_key: str | None = None


class RunState(BaseModel):
    """One customer's run through one journey version. `visits` numbers attempts per node, so keys stay
    unique when a loop revisits a node; `consumed` holds the last stimulus keys applied."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=100)
    journey_id: int = Field(ge=1)
    version: int = Field(ge=1)
    customer_id: int
    timezone: str = "Asia/Shanghai"
    status: RunStatus = "pending"
    trigger: dict[str, Any] = Field(default_factory=dict, description="Properties of the start stimulus")
    entered_at: datetime | None = None
    node: str | None = None
    waiting: Waiting | None = None
    visits: dict[str, int] = Field(default_factory=dict)
    variants: dict[str, str] = Field(default_factory=dict, description="split node id -> variant name")
    goal_deadline: datetime | None = None
    goal_reached_at: datetime | None = None
    exit_reason: str | None = None
    exited_at: datetime | None = None
    consumed: list[str] = Field(default_factory=list)
    steps: int = 0

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @property
    def finished(self) -> bool:
        return self.status == "exited"


# --- stimuli -------------------------------------------------------------------------------------------


class Start(_Frozen):
    """Enter the journey. `key` is the trigger's idempotency key; for an event trigger use the event's own
    key, so the triggering event can never also count as the goal."""

    type: Literal["start"] = "start"
    key: str = Field(min_length=1, max_length=300)
    at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class Event(_Frozen):
    """A customer event (tracked, system, or `Task Completed` with property `task_key`)."""

    type: Literal["event"] = "event"
    key: str = Field(min_length=1, max_length=300)
    name: str
    at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class Timer(_Frozen):
    """A timer the run scheduled (`ScheduleTimer.key`) has come due."""

    type: Literal["timer"] = "timer"
    key: str = Field(min_length=1, max_length=300)
    at: datetime


Stimulus = Annotated[Start | Event | Timer, Field(discriminator="type")]


# --- actions -------------------------------------------------------------------------------------------


class NodeEntered(_Frozen):
    """For per-node counts; `variant` on split nodes (including `holdout`)."""

    type: Literal["node_entered"] = "node_entered"
    key: str
    node_id: str
    node_type: str
    at: datetime
    variant: str | None = None


class SendMessage(_Frozen):
    """Hand to the outbox: governor, then render `template_id`, then the channel; never twice per `key`."""

    type: Literal["send_message"] = "send_message"
    key: str
    customer_id: int
    journey_id: int
    version: int
    run_id: str
    node_id: str
    channel: str
    template_id: str
    purpose: Purpose
    urgent: bool = False
    mass: bool = False
    created_at: datetime
    expires_at: datetime | None = None
    coupon_pool: str | None = None
    variants: dict[str, str] = Field(default_factory=dict)

    def candidate(self, timezone: str | None = None) -> Candidate:
        """What the governor decides about (`timezone`: the customer's zone, None = brand zone)."""
        return Candidate(
            key=self.key, customer_id=self.customer_id, channel=self.channel, purpose=self.purpose,
            created_at=self.created_at, expires_at=self.expires_at, urgent=self.urgent, mass=self.mass,
            timezone=timezone,
        )  # fmt: skip


class ScheduleTimer(_Frozen):
    type: Literal["schedule_timer"] = "schedule_timer"
    key: str
    at: datetime


class CancelTimer(_Frozen):
    """The timer is no longer needed (a stale one would be ignored anyway)."""

    type: Literal["cancel_timer"] = "cancel_timer"
    key: str


class AddTag(_Frozen):
    type: Literal["add_tag"] = "add_tag"
    key: str
    customer_id: int
    tag_id: int


class RemoveTag(_Frozen):
    type: Literal["remove_tag"] = "remove_tag"
    key: str
    customer_id: int
    tag_id: int


class UpdateTrait(_Frozen):
    """Set `trait` to `value`; None removes it."""

    type: Literal["update_trait"] = "update_trait"
    key: str
    customer_id: int
    trait: str
    value: Any = None


class CreateTask(_Frozen):
    """An advisor task; completing it must produce the event `Task Completed` with `task_key` = `key`."""

    type: Literal["create_task"] = "create_task"
    key: str
    customer_id: int
    title: str
    description: str = ""
    assignee: Literal["owner", "staff"] = "owner"
    staff_id: int | None = None
    due_at: datetime


class CallWebhook(_Frozen):
    type: Literal["call_webhook"] = "call_webhook"
    key: str
    url: str
    payload: dict[str, Any]


class Exit(_Frozen):
    """The customer left the journey's path (`reason`: an exit node's reason, goal, holdout, step_limit).
    The run may still wait for its goal (status `awaiting_goal`) until the goal window closes."""

    type: Literal["exit"] = "exit"
    key: str
    reason: str
    node_id: str | None
    at: datetime


class GoalReached(_Frozen):
    type: Literal["goal_reached"] = "goal_reached"
    key: str
    event_key: str
    at: datetime
    variants: dict[str, str] = Field(default_factory=dict)


Action = Annotated[
    NodeEntered
    | SendMessage
    | ScheduleTimer
    | CancelTimer
    | AddTag
    | RemoveTag
    | UpdateTrait
    | CreateTask
    | CallWebhook
    | Exit
    | GoalReached,
    Field(discriminator="type"),
]


class StepResult(_Frozen):
    """The new state and the actions to carry out; `ignored` says why a stimulus changed nothing."""

    state: RunState
    actions: list[Action] = Field(default_factory=list)
    ignored: str | None = None
