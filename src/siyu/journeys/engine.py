"""The pure step function: `step(version, state, stimulus, now) -> StepResult`. No I/O, no clock, no
randomness: the same (state, stimulus) always gives the same result, and a stimulus already consumed,
stale or unrelated changes nothing. A step runs instantaneous nodes until the run waits or leaves.

Idempotency keys: node side effects `journey:{run}:{node}:{attempt}` (attempt = visit number of the
node in this run), timers `…:timer`, node counts `…:entered`, `journey:{run}:exit`, `journey:{run}:goal`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from siyu.messaging.localtime import aware_utc, next_local_time, zone

from . import nodes as n
from .assignment import HOLDOUT, assign
from .filters import matches
from .runtime import (
    MAX_CONSUMED,
    Action,
    AddTag,
    CallWebhook,
    CancelTimer,
    CreateTask,
    Event,
    Exit,
    GoalReached,
    NodeEntered,
    RemoveTag,
    RunState,
    ScheduleTimer,
    SendMessage,
    Start,
    StepResult,
    Timer,
    UpdateTrait,
    Waiting,
)
from .schemas import AnyNode, JourneyDefinition, JourneyVersion

ConditionEvaluator = Callable[[Mapping[str, Any], RunState, datetime], bool]
WaitKind = Literal["timer", "event", "task"]
TASK_COMPLETED = "Task Completed"  # event name; property `task_key` = CreateTask.key
MAX_NODES_PER_STEP = 1000  # the graph check forbids loops without a wait; this is a second guard


def new_run(version: JourneyVersion, run_id: str, customer_id: int, timezone: str) -> RunState:
    """A pending run; feed it a `Start`."""
    return RunState(
        run_id=run_id,
        journey_id=version.journey_id,
        version=version.version,
        customer_id=customer_id,
        timezone=timezone,
    )


def step(
    version: JourneyVersion,
    state: RunState,
    stimulus: Start | Event | Timer,
    now: datetime,
    *,
    evaluate: ConditionEvaluator | None = None,
) -> StepResult:
    """Apply one stimulus. `evaluate(condition, state, now)` answers condition nodes (the runner binds
    it to the customer's data). The input state is never modified."""
    now = aware_utc(now, "now")
    if (state.journey_id, state.version) != (version.journey_id, version.version):
        raise ValueError(f"run {state.run_id} is on version {state.version} of journey {state.journey_id}")
    if stimulus.key in state.consumed:
        return StepResult(state=state, ignored="already consumed")
    run = _Step(version.definition, state.model_copy(deep=True), now, evaluate)
    if isinstance(stimulus, Start):
        ignored = run.start(stimulus)
    elif isinstance(stimulus, Event):
        ignored = run.event(stimulus)
    else:
        ignored = run.timer(stimulus)
    if ignored is not None:
        return StepResult(state=state, ignored=ignored)
    run.state.consumed = [*run.state.consumed, stimulus.key][-MAX_CONSUMED:]
    return StepResult(state=run.state, actions=run.actions)


class _Step:
    def __init__(
        self,
        definition: JourneyDefinition,
        state: RunState,
        now: datetime,
        evaluate: ConditionEvaluator | None,
    ) -> None:
        self.d, self.state, self.now, self.evaluate = definition, state, now, evaluate
        self.actions: list[Action] = []
        self.prefix = f"journey:{state.run_id}"

    # --- stimuli ---------------------------------------------------------------------------------------

    def start(self, start: Start) -> str | None:
        if self.state.status != "pending":
            return "run already started"
        s = self.state
        s.status, s.entered_at, s.trigger = "active", aware_utc(start.at, "start.at"), dict(start.properties)
        if self.d.goal is not None:
            s.goal_deadline = s.entered_at + timedelta(hours=self.d.goal.within_hours)
        self.advance(self.d.start)
        return None

    def event(self, event: Event) -> str | None:
        s = self.state
        if s.status in ("pending", "exited"):
            return f"run is {s.status}"
        at = aware_utc(event.at, "event.at")
        used = self.goal(event, at)
        w = s.waiting
        if s.status != "active" or w is None:
            return None if used else "no wait or goal matches"
        node = self.d.node(w.node)
        if (
            isinstance(node, n.WaitEventNode)
            and event.name == node.event
            and w.since <= at <= w.until
            and matches(node.where, event.properties)
        ):
            self.resume(CancelTimer(key=w.timer_key), node.on_event)
        elif (
            isinstance(node, n.TaskNode)
            and event.name == TASK_COMPLETED
            and event.properties.get("task_key") == w.task_key
        ):
            self.resume(CancelTimer(key=w.timer_key), node.done)
        elif not used:
            return "no wait or goal matches"
        return None

    def timer(self, timer: Timer) -> str | None:
        s = self.state
        if s.status == "awaiting_goal" and timer.key == self.goal_timer_key:
            s.status, s.exited_at = "exited", self.now
            return None
        w = s.waiting
        if s.status != "active" or w is None or timer.key != w.timer_key:
            return "stale timer"
        node = self.d.node(w.node)
        if isinstance(node, n.WaitNode):
            self.resume(None, node.next)
        elif isinstance(node, n.WaitEventNode):
            self.resume(None, node.on_timeout)
        else:
            assert isinstance(node, n.TaskNode)
            self.resume(None, node.not_done_in_time)
        return None

    def resume(self, cancel: CancelTimer | None, target: str) -> None:
        if cancel is not None:
            self.actions.append(cancel)
        self.state.waiting = None
        self.advance(target)

    def goal(self, event: Event, at: datetime) -> bool:
        goal, s = self.d.goal, self.state
        if goal is None or s.goal_reached_at is not None or event.name != goal.event:
            return False
        assert s.entered_at is not None and s.goal_deadline is not None
        if not (s.entered_at <= at <= s.goal_deadline and matches(goal.where, event.properties)):
            return False
        s.goal_reached_at = at
        self.actions.append(
            GoalReached(key=f"{self.prefix}:goal", event_key=event.key, at=at, variants=s.variants)
        )
        if s.status == "awaiting_goal":
            self.actions.append(CancelTimer(key=self.goal_timer_key))
            s.status, s.exited_at = "exited", self.now
        elif goal.exit_on_goal:
            if s.waiting is not None:
                self.actions.append(CancelTimer(key=s.waiting.timer_key))
            self.finish("goal", s.node)
        return True

    # --- walking the graph -----------------------------------------------------------------------------

    @property
    def goal_timer_key(self) -> str:
        return f"{self.prefix}:goal-window"

    def advance(self, node_id: str) -> None:
        current: str | None = node_id
        for _ in range(MAX_NODES_PER_STEP):
            if current is None:
                return
            node = self.d.node(current)
            s = self.state
            attempt = s.visits[current] = s.visits.get(current, 0) + 1
            s.node, s.steps = current, s.steps + 1
            key = f"{self.prefix}:{current}:{attempt}"
            entered = len(self.actions)
            current = self.run_node(node, key)
            variant = s.variants.get(node.id) if isinstance(node, n.SplitNode) else None
            mark = NodeEntered(
                key=f"{key}:entered", node_id=node.id, node_type=node.type, at=self.now, variant=variant
            )
            self.actions.insert(entered, mark)
        if current is not None:
            self.finish("step_limit", current)

    def run_node(self, node: AnyNode, key: str) -> str | None:
        """Carry out `node`; the next node to run now, or None when the run waits or has left."""
        s, now = self.state, self.now
        if isinstance(node, n.WaitNode):
            if isinstance(node.delay, n.DurationDelay):
                return self.wait(node, "timer", now + node.delay.delta, key)
            return self.wait(node, "timer", next_local_time(now, node.delay.at, zone(s.timezone)), key)
        if isinstance(node, n.WaitEventNode):
            return self.wait(node, "event", now + node.timeout.delta, key)
        if isinstance(node, n.TaskNode):
            due = now + timedelta(hours=node.sla_hours)
            self.actions.append(
                CreateTask(key=key, customer_id=s.customer_id, title=node.title, description=node.description,
                           assignee=node.assignee, staff_id=node.staff_id, due_at=due)
            )  # fmt: skip
            return self.wait(node, "task", due, key)
        if isinstance(node, n.ConditionNode):
            if self.evaluate is None:
                raise ValueError(f"node {node.id!r} is a condition: step() needs an evaluate callable")
            return node.yes if self.evaluate(node.condition, s, now) else node.no
        if isinstance(node, n.SplitNode):
            variant = assign(node, s.journey_id, s.customer_id)
            s.variants[node.id] = HOLDOUT if variant is None else variant.name
            if variant is None:
                self.finish(HOLDOUT, node.id)
                return None
            return variant.next
        if isinstance(node, n.ExitNode):
            self.finish(node.reason, node.id)
            return None
        self.actions.append(self.side_effect(node, key))
        return node.next

    def side_effect(
        self, node: n.SendNode | n.TagNode | n.UpdateTraitNode | n.WebhookNode, key: str
    ) -> Action:
        s, now = self.state, self.now
        if isinstance(node, n.SendNode):
            drop = node.expiry.hours if isinstance(node.expiry, n.DropAfter) else None
            return SendMessage(
                key=key, customer_id=s.customer_id, journey_id=s.journey_id, version=s.version,
                run_id=s.run_id, node_id=node.id, channel=node.channel, template_id=node.template_id,
                purpose=node.purpose, urgent=node.priority == "urgent", mass=node.mass, created_at=now,
                expires_at=None if drop is None else now + timedelta(hours=drop),
                coupon_pool=node.coupon_pool, variants=dict(s.variants),
            )  # fmt: skip
        if isinstance(node, n.TagNode):
            tag = AddTag if node.action == "add" else RemoveTag
            return tag(key=key, customer_id=s.customer_id, tag_id=node.tag_id)
        if isinstance(node, n.UpdateTraitNode):
            return UpdateTrait(key=key, customer_id=s.customer_id, trait=node.trait, value=node.value)
        payload = {
            "event": "journey.webhook", "journey_id": s.journey_id, "version": s.version, "run_id": s.run_id,
            "node_id": node.id, "customer_id": s.customer_id, "at": now.isoformat(),
            "variants": dict(s.variants), "data": node.body,
        }  # fmt: skip
        return CallWebhook(key=key, url=node.url, payload=payload)

    def wait(self, node: AnyNode, kind: WaitKind, until: datetime, key: str) -> str | None:
        """Block on a timer due at `until`; None: no node runs after this one in this step."""
        timer_key = f"{key}:timer"
        self.actions.append(ScheduleTimer(key=timer_key, at=until))
        self.state.waiting = Waiting(
            node=node.id, kind=kind, since=self.now, until=until, timer_key=timer_key,
            task_key=key if kind == "task" else None,
        )  # fmt: skip
        return None

    def finish(self, reason: str, node_id: str | None) -> None:
        """Leave the path; keep listening for the goal until its window closes, if it is still open."""
        s, goal_open = self.state, self.d.goal is not None and self.state.goal_reached_at is None
        s.waiting, s.exit_reason = None, reason
        self.actions.append(Exit(key=f"{self.prefix}:exit", reason=reason, node_id=node_id, at=self.now))
        if goal_open and s.goal_deadline is not None and s.goal_deadline > self.now:
            s.status = "awaiting_goal"
            self.actions.append(ScheduleTimer(key=self.goal_timer_key, at=s.goal_deadline))
        else:
            s.status, s.exited_at = "exited", self.now
