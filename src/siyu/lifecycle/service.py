"""Lifecycle stages kept current: `refresh` re-decides the given customers (the worker calls it for the
customers an event batch touched), `sweep` the ones whose stage can change because time passed.

Each change writes `lifecycle_states`, a `Lifecycle Stage Changed` timeline event (from, to, reason) and
the customer's tag in the exclusive group `生命周期`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from siyu.commerce.tables import Order, OrderLine
from siyu.core import fastsql
from siyu.core.clock import as_utc
from siyu.core.database import chunks, insert_for
from siyu.core.settings import get_settings
from siyu.customers.tables import CustomerStats
from siyu.events.system import SystemEvent, record
from siyu.lifecycle import boundaries
from siyu.lifecycle.stages import LABELS, Current, Facts, Rules, stage_for
from siyu.lifecycle.tables import JobRun, LifecycleState
from siyu.rfm.store import system_tag_ids
from siyu.tags import service as tags

TAG_GROUP = "生命周期"
ACTOR = "system:lifecycle"
EVENT = "Lifecycle Stage Changed"
SWEEP_JOB = "lifecycle.sweep"
CHUNK = 1000
COLUMNS = ("customer_id", "stage", "since", "previous_stage", "updated_at")


@dataclass(frozen=True)
class Transition:
    customer_id: int
    from_stage: str | None
    to_stage: str
    since: datetime
    reason: str


_LOAD = (
    "SELECT c.id, s.first_seen_at, s.last_seen_at, s.first_order_at, s.last_order_at, s.orders_count,"
    " l.stage, l.since FROM customers c LEFT JOIN customer_stats s ON s.customer_id = c.id"
    " LEFT JOIN lifecycle_states l ON l.customer_id = c.id WHERE c.merged_into_id IS NULL AND c.id IN "
)


def _time(value: Any) -> datetime | None:
    """SQLite hands back the stored UTC text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _load(session: Session, ids: Sequence[int]) -> dict[int, tuple[Facts, Current | None]]:
    """Facts and current stage of these customers (merged-away ones are left out), in one query read
    through the driver (the first sweep reads every customer this way)."""
    mark = "?" if fastsql.dialect(session) == "sqlite" else "%s"
    rows = session.connection().exec_driver_sql(f"{_LOAD}({', '.join([mark] * len(ids))})", tuple(ids))
    cycles = _cycles(session, ids)
    out: dict[int, tuple[Facts, Current | None]] = {}
    for cid, fs, ls, fo, lo, n, stage, since in rows.fetchall():
        facts = Facts(_time(fs), _time(ls), _time(fo), _time(lo), int(n or 0), cycles.get(cid))
        held = _time(since)  # NOT NULL whenever there is a stage
        out[int(cid)] = (facts, None if stage is None or held is None else Current(stage, held))
    return out


def _cycles(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """Longest consumption cycle (settings, by category) among the products of each last order."""
    cycles = get_settings().lifecycle_category_cycles
    if not cycles:
        return {}
    o, line, s = Order, OrderLine, CustomerStats
    query = (
        select(o.customer_id, line.category)
        .join(s, (s.customer_id == o.customer_id) & (s.last_order_at == o.completed_at))
        .join(line, line.order_pk == o.id)
        .where(o.customer_id.in_(ids), o.status.not_in(("cancelled", "refunded")))
        .where(line.category.in_(list(cycles)))
    )
    out: dict[int, int] = {}
    for cid, category in session.execute(query):
        out[int(cid)] = max(out.get(int(cid), 0), cycles[str(category)])
    return out


def refresh(session: Session, customer_ids: Iterable[int], now: datetime) -> list[Transition]:
    """Re-decide these customers' stages at `now`; write and return the changes."""
    rules = Rules.from_settings(get_settings())
    changes: list[Transition] = []
    for part in chunks(sorted(set(customer_ids)), CHUNK):
        loaded = _load(session, part)
        gone = [c for c in part if c not in loaded]
        if gone:  # merged away (or unknown): their stage is the survivor's
            session.execute(delete(LifecycleState).where(LifecycleState.customer_id.in_(gone)))
        for cid, (facts, current) in loaded.items():
            decision = stage_for(facts, current, now, rules)
            if current is None or decision.stage != current.stage:
                before = None if current is None else current.stage
                changes.append(
                    Transition(cid, before, decision.stage, as_utc(decision.since), decision.reason)
                )
    _write(session, changes, now)
    return changes


def _write(session: Session, changes: Sequence[Transition], now: datetime) -> None:
    if not changes:
        return
    kind = fastsql.dialect(session)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    insert = fastsql.insert_sql(kind, "lifecycle_states", COLUMNS)
    sql = f"{insert} ON CONFLICT (customer_id) DO UPDATE SET {updates}"
    stamp = fastsql.db_time(kind, now)
    rows = [(t.customer_id, t.to_stage, fastsql.db_time(kind, t.since), t.from_stage, stamp) for t in changes]
    fastsql.run_many(session, sql, rows)
    events = [
        SystemEvent(
            t.customer_id,
            EVENT,
            f"lifecycle:{t.customer_id}:{t.to_stage}:{t.since.isoformat()}",
            t.since,
            {
                "from": t.from_stage,
                "to": t.to_stage,
                "reason": t.reason,
                "from_label": LABELS.get(t.from_stage or ""),
                "to_label": LABELS[t.to_stage],
            },
        )
        for t in changes
    ]
    record(session, events, received_at=now)
    tag_ids = stage_tags(session)
    for stage, tag_id in tag_ids.items():
        entering = [t.customer_id for t in changes if t.to_stage == stage]
        if entering:
            tags.apply(session, tag_id, add=entering, actor=ACTOR, reason=f"lifecycle stage {stage}", at=now)


def stage_tags(session: Session) -> dict[str, int]:
    """Stage code → tag id in the `生命周期` group (created on first use)."""
    return system_tag_ids(session, TAG_GROUP, LABELS, category="lifecycle", description="lifecycle stage")


def sweep(session: Session, now: datetime, *, full: bool = False) -> int:
    """Re-decide the customers whose stage can have changed since the previous sweep because time passed
    (boundary queries, see `boundaries`). The first sweep, or `full=True`, goes through every customer
    once. Returns the number of stage changes."""
    job = session.get(JobRun, SWEEP_JOB)
    changed = 0
    if job is None or full:
        for page in boundaries.everyone(session):
            changed += len(refresh(session, page, now))
    elif now > job.last_run_at:
        due = sorted(boundaries.crossed(session, get_settings(), job.last_run_at, now))
        changed = len(refresh(session, due, now))
    stmt = insert_for(fastsql.dialect(session), JobRun.__table__).values(name=SWEEP_JOB, last_run_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"last_run_at": now}))
    if job is not None:
        session.expire(job)
    return changed


def summary(session: Session) -> dict[str, Any]:
    """Customers per stage (with labels), the rules in force and when the last sweep ran."""
    counts = {
        str(stage): int(n)
        for stage, n in session.execute(
            select(LifecycleState.stage, func.count()).group_by(LifecycleState.stage)
        )
    }
    job = session.get(JobRun, SWEEP_JOB)
    s = get_settings()
    return {
        "customers": sum(counts.values()),
        "stages": [
            {"stage": stage, "label": label, "customers": counts.get(stage, 0)}
            for stage, label in LABELS.items()
        ],
        "rules": {
            "new_days": s.lifecycle_new_days,
            "dormant_days": s.lifecycle_dormant_days,
            "churn_days": s.lifecycle_churn_days,
            "category_cycles": s.lifecycle_category_cycles,
            "cycle_factor": s.lifecycle_cycle_factor,
        },
        "last_sweep_at": None if job is None else job.last_run_at,
    }
