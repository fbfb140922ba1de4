"""Reading and writing the runner's rows: journey versions (cached: stored versions never change), runs
locked for a step, timers claimed when due, and the per-node counters.

PostgreSQL claims use `FOR UPDATE SKIP LOCKED` (workers never take the same timer); runs are locked
`FOR UPDATE` in id order, so two transactions stepping the same run wait for each other, never deadlock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import chunks, insert_for

from .schemas import JourneyVersion, parse_definition
from .tables import Journey, JourneyRun, JourneyTimer, JourneyVersionRow

ACTIVE_RUN = ("pending", "active")  # runs that block re-entry; `awaiting_goal` only listens for the goal
LIVE_RUN = ("pending", "active", "awaiting_goal")  # runs that still receive events

_versions: dict[tuple[str, int, int], JourneyVersion] = {}
_lock = threading.Lock()


def _url(session: Session) -> str:
    return str(session.get_bind().engine.url)


def version(session: Session, journey_id: int, number: int) -> JourneyVersion:
    """One stored version, parsed once per process."""
    key = (_url(session), journey_id, number)
    with _lock:
        hit = _versions.get(key)
    if hit is not None:
        return hit
    row = session.get(JourneyVersionRow, (journey_id, number))
    if row is None:
        raise LookupError(f"journey {journey_id} has no version {number}")
    parsed = JourneyVersion(
        journey_id=journey_id, version=number, definition=parse_definition(row.definition)
    )
    with _lock:
        _versions[key] = parsed
    return parsed


@dataclass(frozen=True)
class LiveJourney:
    """A journey that accepts entries now (status active), on its current version."""

    id: int
    name: str
    version: JourneyVersion


def live_journeys(session: Session) -> list[LiveJourney]:
    rows = session.execute(
        select(Journey.id, Journey.name, Journey.current_version).where(Journey.status == "active")
    ).all()
    return [LiveJourney(jid, name, version(session, jid, number)) for jid, name, number in rows]


def running_journey_ids(session: Session) -> list[int]:
    """Journeys whose runs move on (active or archived-while-running); paused ones hold their timers."""
    return list(session.scalars(select(Journey.id).where(Journey.status.in_(("active", "archived")))))


def journey_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(session.execute(select(Journey.id, Journey.name).where(Journey.id.in_(wanted))).all())  # type: ignore[arg-type]


# --- runs ----------------------------------------------------------------------------------------------


@dataclass
class RunRow:
    id: int
    journey_id: int
    version: int
    customer_id: int
    status: str
    state: dict[str, Any]
    arm: str | None


def lock_runs(session: Session, ids: Iterable[int]) -> dict[int, RunRow]:
    """The runs with these ids, locked for update (id order)."""
    r = JourneyRun.__table__.c
    out: dict[int, RunRow] = {}
    for part in chunks(sorted(set(ids)), 1000):
        query = (
            select(r.id, r.journey_id, r.version, r.customer_id, r.status, r.state, r.arm)
            .where(r.id.in_(part))
            .order_by(r.id)
            .with_for_update()
        )
        out.update((int(row[0]), RunRow(*row)) for row in session.execute(query))
    return out


_RUN_COLUMNS = ("state", "status", "updated_at", "next_timer_at", "exited_at", "exit_reason", "converted_at")


def write_runs(session: Session, changes: Mapping[int, Mapping[str, Any]]) -> None:
    """Store new run states: one executemany over `changes` (run id → the columns above)."""
    if not changes:
        return
    r = JourneyRun.__table__.c
    stmt = (
        update(cast(Table, JourneyRun.__table__))
        .where(r.id == bindparam("_id"))
        .values({c: bindparam(f"v_{c}") for c in _RUN_COLUMNS})
    )
    rows = [
        {"_id": rid, **{f"v_{c}": change[c] for c in _RUN_COLUMNS}} for rid, change in sorted(changes.items())
    ]
    for part in chunks(rows, 500):
        session.connection().execute(stmt, list(part))


def live_run_ids(session: Session, customer_ids: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
    """customer id → [(run id, journey id, version)] of their runs still listening for events."""
    r = JourneyRun.__table__.c
    out: dict[int, list[tuple[int, int, int]]] = {}
    for part in chunks(sorted(set(customer_ids)), 1000):
        query = select(r.customer_id, r.id, r.journey_id, r.version).where(
            r.customer_id.in_(part), r.status.in_(LIVE_RUN)
        )
        for cid, rid, jid, ver in session.execute(query):
            out.setdefault(int(cid), []).append((int(rid), int(jid), int(ver)))
    return out


def entry_facts(
    session: Session, journey_id: int, customer_ids: Sequence[int]
) -> dict[int, tuple[datetime | None, bool]]:
    """customer id → (last entry time, has a run that blocks re-entry) for one journey."""
    r = JourneyRun.__table__.c
    blocking = func.sum(case((r.status.in_(ACTIVE_RUN), 1), else_=0))
    out: dict[int, tuple[datetime | None, bool]] = {}
    for part in chunks(sorted(set(customer_ids)), 1000):
        query = (
            select(r.customer_id, func.max(r.entered_at), blocking)
            .where(r.journey_id == journey_id, r.customer_id.in_(part))
            .group_by(r.customer_id)
        )
        for cid, last, active in session.execute(query):
            out[int(cid)] = (last, bool(active))
    return out


# --- timers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueTimer:
    id: int
    key: str
    kind: str
    run_id: int | None
    journey_id: int
    customer_id: int
    due_at: datetime
    payload: dict[str, Any] | None


def claim_timers(session: Session, now: datetime, limit: int, journey_ids: Sequence[int]) -> list[DueTimer]:
    """Up to `limit` pending timers due by `now` (earliest first) of these journeys, locked."""
    if not journey_ids:
        return []
    t = JourneyTimer.__table__.c
    query = (
        select(t.id, t.key, t.kind, t.run_id, t.journey_id, t.customer_id, t.due_at, t.payload)
        .where(t.status == "pending", t.due_at <= now, t.journey_id.in_(sorted(journey_ids)))
        .order_by(t.due_at, t.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueTimer(*row) for row in session.execute(query)]


def mark_fired(session: Session, ids: Sequence[int], now: datetime) -> None:
    t = JourneyTimer.__table__.c
    for part in chunks(sorted(ids), 1000):
        session.execute(update(JourneyTimer).where(t.id.in_(part)).values(status="fired", fired_at=now))


def schedule_timers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert timers; a key already stored is left as it is (idempotent)."""
    if not rows:
        return
    kind = fastsql.dialect(session)
    stmt = insert_for(kind, JourneyTimer.__table__).on_conflict_do_nothing(index_elements=["key"])
    session.execute(stmt, sorted(rows, key=lambda r: str(r["key"])))


def cancel_timers(session: Session, keys: Iterable[str]) -> None:
    """Cancel pending timers. On PostgreSQL a timer another worker is firing right now is skipped: the
    engine ignores it as stale, and waiting for it could deadlock with that worker."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    t = JourneyTimer.__table__.c
    for part in chunks(wanted, 1000):
        ids = select(t.id).where(t.key.in_(part), t.status == "pending").with_for_update(skip_locked=True)
        locked = list(session.scalars(ids))
        if locked:
            session.execute(update(JourneyTimer).where(t.id.in_(locked)).values(status="cancelled"))


# --- counters ------------------------------------------------------------------------------------------

StatKey = tuple[int, int, str, str, str]  # journey, version, node ('' = journey), arm ('' = none), metric


def add_stats(session: Session, counts: Counter[StatKey]) -> None:
    """counts[(journey, version, node, arm, metric)] += n, one upsert per key (sorted: stable lock order)."""
    if not counts:
        return
    kind = fastsql.dialect(session)
    sql = fastsql.upsert_add_sql(
        kind, "journey_stats", ("journey_id", "version", "node_id", "arm", "metric"), ("count",)
    )
    rows = [(*key, n) for key, n in sorted(counts.items()) if n]
    fastsql.run_many(session, sql, rows)
