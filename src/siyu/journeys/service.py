"""Journeys as operators manage them: create (from JSON or a playbook), edit (a new version; running
customers stay on theirs), activate / pause / archive, start manually, and read counts per node and arm.

Functions take a Session and only flush; the caller owns the transaction.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.database import insert_for
from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.events.tables import Event as EventRow
from siyu.messaging.tables import OutboxMessage

from . import store
from .playbooks import PLAYBOOKS
from .runner import Batch, Entry
from .scheduling import bulk_progress, create_bulk
from .schemas import JourneyDefinition, parse_definition
from .tables import BulkEntry, Journey, JourneyRun, JourneyStat, JourneyVersionRow
from .triggers import ManualTrigger

SYNC_LIMIT = 1000  # a manual start for more customers (or a segment) is queued as a bulk entry
TRANSITIONS = {
    "activate": ("draft", "paused"),
    "pause": ("active",),
    "archive": ("draft", "active", "paused"),
}
TARGET = {"activate": "active", "pause": "paused", "archive": "archived"}


def get(session: Session, journey_id: int) -> Journey:
    journey = session.get(Journey, journey_id)
    if journey is None:
        raise NotFound(f"journey {journey_id} not found", field="journey_id")
    return journey


def definition_of(session: Session, journey: Journey, version: int | None = None) -> JourneyDefinition:
    return store.version(session, journey.id, version or journey.current_version).definition


def create(session: Session, data: Any, *, actor: str, now: datetime, playbook: str | None = None) -> Journey:
    """A new journey in `draft`, with version 1 of `data` (ValidationFailed names the bad field)."""
    definition = parse_definition(data)
    journey = Journey(name=definition.name, description=definition.description, status="draft",
                      current_version=1, playbook=playbook, created_at=now, updated_at=now,
                      created_by=actor[:100])  # fmt: skip
    session.add(journey)
    session.flush()
    _add_version(session, journey.id, 1, definition, actor, now)
    return journey


def _add_version(
    session: Session, journey_id: int, number: int, definition: JourneyDefinition, actor: str, now: datetime
) -> None:
    stored = definition.model_dump(mode="json", exclude_none=True)
    session.add(JourneyVersionRow(journey_id=journey_id, version=number, definition=stored, created_at=now,
                                  created_by=actor[:100]))  # fmt: skip
    session.flush()


def update(session: Session, journey_id: int, data: Any, *, actor: str, now: datetime) -> Journey:
    """Save `data` as the next version; new entries use it, running customers finish on their own."""
    journey = get(session, journey_id)
    if journey.status == "archived":
        raise Conflict(f"journey {journey_id} is archived: it cannot be edited", field="status")
    definition = parse_definition(data)
    journey.current_version += 1
    journey.name, journey.description, journey.updated_at = definition.name, definition.description, now
    _add_version(session, journey.id, journey.current_version, definition, actor, now)
    return journey


def transition(session: Session, journey_id: int, action: str, *, now: datetime) -> Journey:
    """activate (draft/paused → active), pause (active → paused: no entries, timers held), archive."""
    journey = get(session, journey_id)
    allowed = TRANSITIONS[action]
    if journey.status == TARGET[action]:
        return journey
    if journey.status not in allowed:
        raise Conflict(f"journey {journey_id} is {journey.status}: it cannot {action}", field="status")
    journey.status, journey.updated_at = TARGET[action], now
    if action == "activate" and journey.activated_at is None:
        journey.activated_at = now
        start_event_cursor(session, now)
    session.flush()
    return journey


def start_event_cursor(session: Session, now: datetime) -> None:
    """The first activation places the event reader at the end of the log: journeys react to what
    happens from then on, and a deployment with years of imported events does not replay them."""
    from .tables import RunnerCursor
    from .triggers_io import EVENTS_CURSOR

    last = int(session.scalar(select(func.max(EventRow.id))) or 0)
    kind = session.get_bind().dialect.name
    values = {"name": EVENTS_CURSOR, "position": last, "data": {}, "updated_at": now}
    session.execute(
        insert_for(kind, RunnerCursor.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def list_journeys(session: Session, *, include_archived: bool = False) -> list[Journey]:
    query = select(Journey).order_by(Journey.id)
    if not include_archived:
        query = query.where(Journey.status != "archived")
    return list(session.scalars(query))


def versions(session: Session, journey_id: int) -> list[JourneyVersionRow]:
    get(session, journey_id)
    query = select(JourneyVersionRow).where(JourneyVersionRow.journey_id == journey_id)
    return list(session.scalars(query.order_by(JourneyVersionRow.version)))


def stats(session: Session, journey_id: int) -> dict[str, Any]:
    """Runs by status, messages by status, and the counters per version, node and arm."""
    get(session, journey_id)
    r, o, s = JourneyRun.__table__.c, OutboxMessage.__table__.c, JourneyStat.__table__.c
    by_run = select(r.status, func.count()).where(r.journey_id == journey_id).group_by(r.status)
    runs = {str(k): int(v) for k, v in session.execute(by_run)}
    won = select(func.count()).where(r.journey_id == journey_id, r.converted_at.is_not(None))
    by_message = select(o.status, func.count()).where(o.journey_id == journey_id).group_by(o.status)
    messages = {str(k): int(v) for k, v in session.execute(by_message)}
    nodes: dict[str, Any] = {}
    totals: dict[str, dict[str, int]] = {}
    query = select(s.version, s.node_id, s.arm, s.metric, s.count).where(s.journey_id == journey_id)
    for version, node, arm, metric, count in session.execute(query.order_by(s.version, s.node_id, s.arm)):
        cell = (
            nodes.setdefault(str(version), {}).setdefault(node or "journey", {}).setdefault(arm or "all", {})
        )
        cell[metric] = cell.get(metric, 0) + int(count)
        if node == "" or metric != "entered":  # journey-level entries, and every message or exit count
            per_arm = totals.setdefault(arm or "all", {})
            per_arm[metric] = per_arm.get(metric, 0) + int(count)
    converted = int(session.scalar(won) or 0)
    return {"runs": runs, "converted": converted, "messages": messages, "arms": totals, "versions": nodes}


def trigger(
    session: Session,
    journey_id: int,
    *,
    now: datetime,
    actor: str,
    customer_ids: Sequence[int] | None = None,
    segment_id: int | None = None,
    key: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start the journey by hand (it needs a `manual` trigger and must be active) for a list of customers
    or a segment. Up to 1000 customers start now; more, or a segment, are queued for the worker. The same
    `key` twice starts each customer once."""
    journey = get(session, journey_id)
    if journey.status != "active":
        raise Conflict(f"journey {journey_id} is {journey.status}: activate it first", field="status")
    if not any(isinstance(t, ManualTrigger) for t in definition_of(session, journey).triggers):
        raise ValidationFailed("this journey has no manual trigger", field="journey_id")
    if (customer_ids is None) == (segment_id is None):
        raise ValidationFailed("give either customer_ids or segment_id", field="customer_ids")
    start_key = f"manual:{key or uuid.uuid4().hex}"[:300]
    if customer_ids is not None and len(customer_ids) <= SYNC_LIMIT:
        batch = Batch(session, now)
        batch.start(
            [Entry(journey.id, cid, start_key, now, properties or {}) for cid in sorted(set(customer_ids))]
        )
        batch.finish()
        return {"key": start_key, "entered": batch.entered, "skipped": batch.skipped, "queued": False}
    bulk = create_bulk(session, key=f"{journey.id}:{start_key}", journey_id=journey.id, start_key=start_key,
                       now=now, segment_id=segment_id, customer_ids=customer_ids, properties=properties,
                       created_by=actor)  # fmt: skip
    return {"key": start_key, "bulk_id": bulk.id, "queued": True}


def bulk_status(session: Session, journey_id: int, bulk_id: int) -> dict[str, Any]:
    """Progress of a queued start (all its shards)."""
    bulk = session.get(BulkEntry, bulk_id)
    if bulk is None or bulk.journey_id != journey_id:
        raise NotFound(f"no queued start {bulk_id} for journey {journey_id}", field="bulk_id")
    return bulk_progress(session, bulk)


# --- playbooks -----------------------------------------------------------------------------------------


def playbook_parameters(name: str) -> dict[str, str]:
    """The ids a playbook needs from the brand (name → type, e.g. new_customer_tag_id: int)."""
    signature = inspect.signature(PLAYBOOKS[name].build)
    return {p.name: str(p.annotation) for p in signature.parameters.values()}


def playbooks() -> list[dict[str, Any]]:
    return [
        {"key": p.key, "name_zh": p.name_zh, "name_en": p.name_en, "parameters": playbook_parameters(p.key),
         "description": (p.build.__doc__ or "").strip()}
        for p in PLAYBOOKS.values()
    ]  # fmt: skip


def clone_playbook(
    session: Session, name: str, parameters: dict[str, Any], *, actor: str, now: datetime
) -> Journey:
    """A draft journey from a playbook, filled with the brand's ids (segments, tags, staff, URLs)."""
    playbook = PLAYBOOKS.get(name)
    if playbook is None:
        raise NotFound(f"no playbook called {name!r} (known: {', '.join(PLAYBOOKS)})", field="name")
    expected = inspect.signature(playbook.build).parameters
    unknown = sorted(set(parameters) - set(expected))
    if unknown:
        raise ValidationFailed(
            f"unknown parameters {unknown} (this playbook takes {list(expected)})", field="parameters"
        )
    missing = [
        p for p, spec in expected.items() if spec.default is inspect.Parameter.empty and p not in parameters
    ]
    if missing:
        raise ValidationFailed(f"missing parameters {missing}", field="parameters")
    return create(session, playbook.build(**parameters), actor=actor, now=now, playbook=name)
