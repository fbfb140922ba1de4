"""Carrying out a batch of engine actions as rows, inside the transaction that stores the new run states:
outbox messages, timers, advisor tasks, tag and trait changes, counters and timeline events. Every row
is keyed by the action's idempotency key (INSERT … ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import insert_for
from siyu.core.errors import SiyuError
from siyu.events.system import SystemEvent, record
from siyu.messaging import outbox
from siyu.staff.tables import CustomerOwner

from .runtime import (
    AddTag,
    CallWebhook,
    CancelTimer,
    CreateTask,
    Exit,
    GoalReached,
    NodeEntered,
    RemoveTag,
    RunState,
    ScheduleTimer,
    SendMessage,
    StepResult,
    UpdateTrait,
)
from .store import StatKey, add_stats, cancel_timers, schedule_timers
from .tables import AdvisorTask

log = logging.getLogger(__name__)
JOURNEY_ENTERED, JOURNEY_EXITED, JOURNEY_CONVERTED = "Journey Entered", "Journey Exited", "Journey Converted"
EVENT_KEY_MAX = 128  # events.message_id


def event_key(text: str) -> str:
    """A timeline-event idempotency key that fits `events.message_id` (long keys are hashed)."""
    if len(text) <= EVENT_KEY_MAX:
        return text
    return f"{text[:80]}#{hashlib.sha256(text.encode()).hexdigest()[:40]}"


@dataclass
class Effects:
    """Everything a batch of steps asks for, gathered and then written with a handful of statements."""

    now: datetime
    messages: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    cancels: set[str] = field(default_factory=set)
    tags: dict[tuple[int, str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    traits: list[tuple[int, str, Any, str]] = field(default_factory=list)
    tasks: list[tuple[CreateTask, int, int, str]] = field(default_factory=list)
    overdue: set[str] = field(default_factory=set)
    events: list[SystemEvent] = field(default_factory=list)
    stats: Counter[StatKey] = field(default_factory=Counter)
    touched: set[int] = field(default_factory=set)

    # --- gathering -----------------------------------------------------------------------------------

    def entered(self, state: RunState, name: str, arm: str | None, weight: float | None) -> None:
        """A run started: the journey-level count and the `Journey Entered` timeline event."""
        self.stats[(state.journey_id, state.version, "", arm or "", "entered")] += 1
        props: dict[str, Any] = {
            "journey_id": str(state.journey_id), "journey_name": name, "version": state.version,
            "run_id": state.run_id, "arm": arm or "", "trigger": state.trigger,
        }  # fmt: skip
        if weight is not None:
            props["arm_weight"] = weight
        key = event_key(f"journey:{state.run_id}:entered")
        self.events.append(SystemEvent(state.customer_id, JOURNEY_ENTERED, key, self.now, props))

    def step(self, result: StepResult, name: str, arm: str | None) -> None:
        """The actions of one applied step."""
        s = result.state
        base = {"journey_id": str(s.journey_id), "journey_name": name, "version": s.version,
                "run_id": s.run_id, "arm": arm or ""}  # fmt: skip
        for action in result.actions:
            if isinstance(action, NodeEntered):
                self.stats[(s.journey_id, s.version, action.node_id, arm or "", "entered")] += 1
            elif isinstance(action, SendMessage):
                self.messages.append(_message(action, s, name, arm))
            elif isinstance(action, CallWebhook):
                self.messages.append(_webhook_call(action, s, arm, self.now))
            elif isinstance(action, ScheduleTimer):
                self.timers.append(
                    {"key": action.key, "kind": "run", "run_id": int(s.run_id), "journey_id": s.journey_id,
                     "customer_id": s.customer_id, "due_at": action.at, "status": "pending", "payload": None}
                )  # fmt: skip
            elif isinstance(action, CancelTimer):
                self.cancels.add(action.key)
            elif isinstance(action, AddTag | RemoveTag):
                verb = "add" if isinstance(action, AddTag) else "remove"
                self.tags[(action.tag_id, verb, f"journey:{s.journey_id}")].add(action.customer_id)
            elif isinstance(action, UpdateTrait):
                self.traits.append(
                    (action.customer_id, action.trait, action.value, f"journey:{s.journey_id}")
                )
            elif isinstance(action, CreateTask):
                self.tasks.append((action, s.journey_id, int(s.run_id), s.node or ""))
            elif isinstance(action, Exit):
                self.stats[(s.journey_id, s.version, action.node_id or "", arm or "", "exited")] += 1
                props = {**base, "reason": action.reason, "node_id": action.node_id}
                self.events.append(
                    SystemEvent(s.customer_id, JOURNEY_EXITED, event_key(action.key), action.at, props)
                )
            elif isinstance(action, GoalReached):
                self.stats[(s.journey_id, s.version, "", arm or "", "converted")] += 1
                props = {**base, "event_key": action.event_key, "variants": action.variants}
                self.events.append(
                    SystemEvent(s.customer_id, JOURNEY_CONVERTED, event_key(action.key), action.at, props)
                )

    # --- writing -------------------------------------------------------------------------------------

    def write(self, session: Session) -> None:
        outbox.enqueue(session, self.messages)
        schedule_timers(session, self.timers, self.now)
        cancel_timers(session, self.cancels)
        self._tasks(session)
        self._tags(session)
        self._traits(session)
        record(session, self.events, received_at=self.now)
        add_stats(session, self.stats)
        if self.touched:
            _requeue_segments(session, self.touched, self.now)

    def _tasks(self, session: Session) -> None:
        if self.overdue:
            t = AdvisorTask.__table__.c
            session.execute(
                update(AdvisorTask)
                .where(t.key.in_(sorted(self.overdue)), t.status == "open")
                .values(status="overdue")
            )
        if not self.tasks:
            return
        ids = sorted({a.customer_id for a, *_ in self.tasks})
        o = CustomerOwner.__table__.c
        owners = dict(session.execute(select(o.customer_id, o.staff_id).where(o.customer_id.in_(ids))).all())
        rows = [
            {"key": a.key, "customer_id": a.customer_id, "journey_id": jid, "run_id": rid, "node_id": node,
             "staff_id": owners.get(a.customer_id, a.staff_id) if a.assignee == "owner" else a.staff_id,
             "title": a.title, "description": a.description, "due_at": a.due_at, "status": "open",
             "created_at": self.now}
            for a, jid, rid, node in self.tasks
        ]  # fmt: skip
        kind = fastsql.dialect(session)
        stmt = insert_for(kind, AdvisorTask.__table__).on_conflict_do_nothing(index_elements=["key"])
        session.execute(stmt, sorted(rows, key=lambda r: str(r["key"])))

    def _tags(self, session: Session) -> None:
        from siyu.tags import service as tags

        for (tag_id, verb, actor), ids in sorted(self.tags.items()):
            try:
                with session.begin_nested():
                    change = {verb: sorted(ids)}
                    tags.apply(session, tag_id, **change, actor=actor, reason="journey", at=self.now)  # type: ignore[arg-type]
            except SiyuError as exc:
                log.warning(
                    "journey tag %s %s for %d customers skipped: %s", verb, tag_id, len(ids), exc.message
                )
                continue
            self.touched.update(ids)

    def _traits(self, session: Session) -> None:
        if not self.traits:
            return
        from siyu.core.pii import get_vault
        from siyu.customers.traits import TraitWrite
        from siyu.customers.traits import record as record_traits

        writes = [TraitWrite(cid, name, value, self.now, origin) for cid, name, value, origin in self.traits]
        record_traits(session, get_vault(), writes)
        self.touched.update(cid for cid, *_ in self.traits)


def _context(state: RunState, name: str) -> dict[str, Any]:
    return {"variants": dict(state.variants), "trigger": state.trigger, "timezone": state.timezone,
            "journey_name": name}  # fmt: skip


def _message(action: SendMessage, state: RunState, name: str, arm: str | None) -> dict[str, Any]:
    return {
        "key": action.key, "customer_id": action.customer_id, "journey_id": action.journey_id,
        "version": action.version, "run_id": int(action.run_id), "node_id": action.node_id, "arm": arm,
        "channel": action.channel, "template_id": action.template_id, "purpose": action.purpose,
        "urgent": action.urgent, "mass": action.mass, "coupon_pool": action.coupon_pool,
        "context": _context(state, name), "created_at": action.created_at, "expires_at": action.expires_at,
    }  # fmt: skip


def _webhook_call(action: CallWebhook, state: RunState, arm: str | None, now: datetime) -> dict[str, Any]:
    return {
        "key": action.key, "customer_id": state.customer_id, "journey_id": state.journey_id,
        "version": state.version, "run_id": int(state.run_id), "node_id": action.payload.get("node_id"),
        "arm": arm,
        "channel": outbox.WEBHOOK_CALL, "template_id": "-", "purpose": "transactional",
        "context": {"url": action.url, "payload": action.payload}, "created_at": now,
    }  # fmt: skip


def _requeue_segments(session: Session, ids: set[int], now: datetime) -> None:
    """Tags and traits a journey changed can move the customer in or out of segments."""
    try:
        from siyu.segments import queue
    except ModuleNotFoundError:  # pragma: no cover (segments not installed)
        return
    queue.enqueue_now(session, sorted(ids), now, "event")
