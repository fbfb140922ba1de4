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
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import UTCDateTime
from siyu.messaging.sqlids import (
    arrays,
    ids_value,
    insert_unnest,
    keys_value,
    text_in,
    unnest_from,
    unnest_select,
    update_unnest,
)

from .schemas import JourneyVersion, parse_definition
from .tables import Journey, JourneyTimer, JourneyVersionRow

ACTIVE_RUN = ("pending", "active")  # runs that block re-entry; `awaiting_goal` only listens for the goal
LIVE_RUN = ("pending", "active", "awaiting_goal")  # runs that still receive events

_versions: dict[tuple[str, int, int], JourneyVersion] = {}
_lock = threading.Lock()


_urls: dict[int, tuple[Any, str]] = {}  # id(engine) → (engine, its URL as text): str(url) costs microseconds


def _url(session: Session) -> str:
    engine = session.get_bind().engine
    hit = _urls.get(id(engine))
    if hit is None or hit[0] is not engine:
        hit = _urls[id(engine)] = (engine, str(engine.url))
    return hit[1]


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
    state: str | dict[str, Any]  # JSON text as read, {} for a run started in this batch
    arm: str | None
    parsed: Any = None  # the RunState once a step in this batch produced it


def lock_runs(session: Session, ids: Iterable[int]) -> dict[int, RunRow]:
    """The runs with these ids, locked for update (id order); `state` as JSON text (pydantic parses it
    faster than a dict)."""
    state = "state" if fastsql.dialect(session) == "sqlite" else "state::text"
    sql = (f"SELECT id, journey_id, version, customer_id, status, {state}, arm FROM journey_runs"  # noqa: S608
           " WHERE {in} ORDER BY id")  # fmt: skip
    query = text_in(session, sql, "id", lock="update")
    return {int(row[0]): RunRow(*row) for row in session.execute(query, {"ids": ids_value(session, ids)})}


RUN_COLUMNS = ("state", "status", "updated_at", "next_timer_at", "exited_at", "exit_reason", "converted_at")
_RUN_TIMES = frozenset({"updated_at", "next_timer_at", "exited_at", "converted_at"})


_RUN_TYPES = {"state": "jsonb", "status": "text", "updated_at": "timestamptz", "next_timer_at": "timestamptz",
              "exited_at": "timestamptz", "exit_reason": "text", "converted_at": "timestamptz"}  # fmt: skip


def write_runs(session: Session, changes: Mapping[int, Mapping[str, Any]]) -> None:
    """Store new run states (run id → the columns above; `state` as JSON text): one statement with the
    rows as arrays on PostgreSQL, one driver-level executemany on SQLite."""
    if not changes:
        return
    kind = fastsql.dialect(session)
    if kind == "postgresql":
        typed = [(c, _RUN_TYPES[c]) for c in RUN_COLUMNS]
        rows = [(rid, *(change[c] for c in RUN_COLUMNS)) for rid, change in sorted(changes.items())]
        update_unnest(session, "journey_runs", ("id", "bigint"), typed, rows)
        return
    sets = ", ".join(f"{c} = ?" for c in RUN_COLUMNS)
    rows = [
        (*(fastsql.db_time(kind, change[c]) if c in _RUN_TIMES else change[c] for c in RUN_COLUMNS), rid)
        for rid, change in sorted(changes.items())
    ]
    fastsql.run_many(session, f"UPDATE journey_runs SET {sets} WHERE id = ?", rows)  # noqa: S608


_NEW_RUN = (("id", "bigint"), ("journey_id", "int"), ("version", "int"), ("customer_id", "bigint"),
            ("entry_key", "text"), ("arm", "text"), ("entered_at", "timestamptz"),
            *((c, _RUN_TYPES[c]) for c in RUN_COLUMNS))  # fmt: skip
_INSERT_RUNS = (
    f"INSERT INTO journey_runs ({', '.join(c for c, _ in _NEW_RUN)})"  # noqa: S608 (names from code)
    f" SELECT {unnest_select(_NEW_RUN)} FROM {unnest_from(_NEW_RUN)}"
    " ON CONFLICT (journey_id, customer_id, entry_key) DO NOTHING RETURNING id"
)


def next_run_ids(session: Session, count: int) -> list[int]:
    """PostgreSQL: `count` fresh run ids from the table's sequence."""
    if count == 0:
        return []
    sql = "SELECT nextval(pg_get_serial_sequence('journey_runs', 'id')) FROM generate_series(1, %s)"
    return [int(i) for (i,) in session.connection().exec_driver_sql(sql, (count,))]


def insert_runs(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[int]:
    """PostgreSQL: insert runs with their state (id, journey, version, customer, entry key, arm, entered
    at, then `RUN_COLUMNS`); a run whose (journey, customer, entry key) exists is skipped. Returns the ids
    inserted."""
    if not rows:
        return set()
    result = session.connection().exec_driver_sql(_INSERT_RUNS, tuple(arrays(rows, len(_NEW_RUN))))
    return {int(i) for (i,) in result}


def live_run_ids(session: Session, customer_ids: Iterable[int]) -> dict[int, list[tuple[int, int, int]]]:
    """customer id → [(run id, journey id, version)] of their runs still listening for events."""
    sql = ("SELECT customer_id, id, journey_id, version FROM journey_runs"
           " WHERE {in} AND status IN ('pending', 'active', 'awaiting_goal')")  # fmt: skip
    out: dict[int, list[tuple[int, int, int]]] = {}
    for cid, rid, jid, ver in session.execute(
        text_in(session, sql, "customer_id"), {"ids": ids_value(session, customer_ids)}
    ):
        out.setdefault(int(cid), []).append((int(rid), int(jid), int(ver)))
    return out


def entry_facts(
    session: Session, journey_id: int, customer_ids: Sequence[int]
) -> dict[int, tuple[datetime | None, bool]]:
    """customer id → (last entry time, has a run that blocks re-entry) for one journey.

    PostgreSQL looks each customer up on its own (a lateral subquery per id): written as
    `customer_id = ANY(:ids)`, a plan made while `journey_runs` was small (a journey's first large start
    fills it faster than statistics follow) read every run of the journey for each batch."""
    if fastsql.dialect(session) == "postgresql":
        lateral = (
            "SELECT u.customer_id, r.last, r.blocking FROM unnest(CAST(:ids AS bigint[])) AS u(customer_id)"
            " CROSS JOIN LATERAL (SELECT max(entered_at) AS last, sum(CASE WHEN status IN ('pending',"
            " 'active') THEN 1 ELSE 0 END) AS blocking FROM journey_runs WHERE journey_id = :journey"
            " AND customer_id = u.customer_id) AS r WHERE r.last IS NOT NULL"
        )
        rows = session.execute(
            text(lateral).columns(last=UTCDateTime()),
            {"journey": journey_id, "ids": ids_value(session, customer_ids)},
        )
        return {int(cid): (last, bool(blocking)) for cid, last, blocking in rows}
    sql = ("SELECT customer_id, max(entered_at) AS last, sum(CASE WHEN status IN ('pending', 'active')"
           " THEN 1 ELSE 0 END) AS blocking FROM journey_runs WHERE journey_id = :journey AND {in}"
           " GROUP BY customer_id")  # fmt: skip
    query = text_in(session, sql, "customer_id").columns(last=UTCDateTime())
    params = {"journey": journey_id, "ids": ids_value(session, customer_ids)}
    return {int(cid): (last, bool(blocking)) for cid, last, blocking in session.execute(query, params)}


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


# a literal, so the planner can prove the partial index `ix_journey_timers_due` (migration 0007) applies
_PENDING = text("journey_timers.status = 'pending'")


def claim_timers(session: Session, now: datetime, limit: int, journey_ids: Sequence[int]) -> list[DueTimer]:
    """Up to `limit` pending timers due by `now` (earliest first) of these journeys, locked."""
    if not journey_ids:
        return []
    t = JourneyTimer.__table__.c
    query = (
        select(t.id, t.key, t.kind, t.run_id, t.journey_id, t.customer_id, t.due_at, t.payload)
        .where(_PENDING, t.due_at <= now, t.journey_id.in_(sorted(journey_ids)))
        .order_by(t.due_at, t.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueTimer(*row) for row in session.execute(query)]


def mark_fired(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        update = text_in(
            session, "UPDATE journey_timers SET status = 'fired', fired_at = :at WHERE {in}", "id"
        )
        session.execute(
            update, {"at": fastsql.db_time(fastsql.dialect(session), now), "ids": ids_value(session, ids)}
        )


_TIMER_COLUMNS = (
    "key",
    "kind",
    "run_id",
    "journey_id",
    "customer_id",
    "due_at",
    "status",
    "payload",
    "created_at",
)
_TIMER_TYPES = list(
    zip(
        _TIMER_COLUMNS,
        ("text", "text", "bigint", "int", "bigint", "timestamptz", "text", "jsonb", "timestamptz"),
        strict=True,
    )
)


def schedule_timers(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert timers (created `now`); a key already stored is left as it is (idempotent)."""
    if not rows:
        return
    kind = fastsql.dialect(session)
    created = fastsql.db_time(kind, now)
    values = [
        (r["key"], r["kind"], r["run_id"], r["journey_id"], r["customer_id"],
         fastsql.db_time(kind, r["due_at"]), r["status"],
         None if r["payload"] is None else fastsql.db_json(r["payload"]), created)
        for r in sorted(rows, key=lambda r: str(r["key"]))
    ]  # fmt: skip
    if kind == "postgresql":
        insert_unnest(session, "journey_timers", _TIMER_TYPES, values, " ON CONFLICT (key) DO NOTHING")
        return
    sql = fastsql.insert_sql(kind, "journey_timers", _TIMER_COLUMNS, json_columns=("payload",))
    fastsql.run_many(session, sql + " ON CONFLICT (key) DO NOTHING", values)


def cancel_timers(session: Session, keys: Iterable[str]) -> None:
    """Cancel pending timers. On PostgreSQL a timer another worker is firing right now is skipped: the
    engine ignores it as stale, and waiting for it could deadlock with that worker."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    query = text_in(
        session, "SELECT id FROM journey_timers WHERE {in} AND status = 'pending'", "key", "keys", lock="skip"
    )
    locked = [int(i) for i in session.scalars(query, {"keys": keys_value(session, wanted)})]
    if locked:
        update = text_in(session, "UPDATE journey_timers SET status = 'cancelled' WHERE {in}", "id")
        session.execute(update, {"ids": ids_value(session, locked)})


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
