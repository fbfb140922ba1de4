"""The segment engine's worker jobs: drain the evaluation queue (events and due time re-checks), build
segments saved without a build, and — when `segment_rebuild_interval_s` is set — full rebuilds.

Draining a batch: claim due customers, refresh their lifecycle stage and RFM scores, evaluate every dynamic
segment and rule tag for them; one transaction per batch (a failed batch is postponed, not lost).
"""

from __future__ import annotations

import importlib
import logging
import time
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import or_, select, update

from siyu.core.database import write_lock
from siyu.core.settings import get_settings
from siyu.segments import evaluation, graph, queue, rechecks
from siyu.segments.tables import EvaluationDue, Segment
from siyu.worker.jobs import SessionFactory, every, register

log = logging.getLogger(__name__)
BUDGET_S = 1.0  # a drain call returns after about this long, so other jobs and stop() get their turn
RETRY_AFTER = timedelta(seconds=30)
RECHECK_EVERY_S = 6 * 3600  # well inside windows.HORIZON_DAYS, so a missed run is caught up by the next


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not f"{name}.".startswith(f"{exc.name}."):
            raise
        return None


def refresh_inputs(session: Any, ids: list[int], now: datetime) -> None:
    """Lifecycle stage and RFM scores first: segments and rule tags read them."""
    for name in ("siyu.lifecycle.service", "siyu.rfm.service"):
        module = _optional(name)
        if module is not None:
            module.refresh(session, ids, now)


def drain_batch(factory: SessionFactory, now: datetime, size: int) -> int:
    """Evaluate one batch of due customers; returns how many (0: the queue has nothing due)."""
    with factory() as session, write_lock(session):
        claimed: dict[int, str] = {}
        try:
            claimed = queue.claim(session, now, size)
            if not claimed:
                return 0
            ids = sorted(claimed)
            refresh_inputs(session, ids, now)
            evaluation.evaluate_customers(session, ids, now, reasons=claimed)
            session.commit()
            return len(ids)
        except Exception:
            session.rollback()
            if not claimed:
                raise
            log.exception("evaluating %d customers failed; retrying them in %s", len(claimed), RETRY_AFTER)
            q = EvaluationDue.__table__.c
            session.execute(
                update(EvaluationDue)
                .where(q.customer_id.in_(sorted(claimed)))
                .values(due_at=now + RETRY_AFTER)
            )
            session.commit()
            return len(claimed)


def drain(factory: SessionFactory, now: datetime) -> int:
    """Evaluate due customers batch by batch for up to about a second."""
    size = get_settings().worker_batch_size
    started, done = time.monotonic(), 0
    while time.monotonic() - started < BUDGET_S:
        n = drain_batch(factory, now, size)
        done += n
        if n < size:
            break
    return done


def build_pending(factory: SessionFactory, now: datetime) -> int:
    """Build one dynamic segment whose members do not reflect its current version (saved with build off)."""
    with factory() as session:
        s = Segment.__table__.c
        pending = session.scalar(
            select(s.id)
            .where(
                s.kind == "dynamic",
                s.archived_at.is_(None),
                or_(s.built_version.is_(None), s.built_version != s.version),
            )
            .order_by(s.id)
            .limit(1)
        )
        if pending is None:
            return 0
        session.rollback()
        with write_lock(session):
            evaluation.rebuild(session, pending, now, reason="built by the worker")
            session.commit()
    return 1


def rebuild_everything(factory: SessionFactory, now: datetime) -> int:
    """Full rebuild of every dynamic segment and rule tag (one transaction each)."""
    with factory() as session:
        targets = graph.load_targets(session)
    for target in targets:
        with factory() as session, write_lock(session):
            if target.kind == "segment":
                evaluation.rebuild(session, target.id, now, reason="scheduled rebuild")
            else:
                evaluation.rebuild_tag(session, target.id, now, reason="scheduled rebuild")
            session.commit()
    return len(targets)


def schedule_rechecks(factory: SessionFactory, now: datetime) -> int:
    """Queue the time re-checks of every customer whose result changes within the next days (set-based,
    through the conditions' indexes), from where the previous run left off."""
    from siyu.worker.runner import last_start

    with factory() as session:
        since = last_start(session, "segments.rechecks") or now
        roots = [t.root for t in graph.load_targets(session)]
        session.rollback()
        with write_lock(session):
            done = rechecks.schedule_all(session, roots, since, now)
            session.commit()
    return done


register(
    "segments.queue", drain, description="Re-evaluate customers touched by events or due a time re-check"
)
register("segments.build", build_pending, description="Build segments saved without a build")
register(
    "segments.rechecks",
    schedule_rechecks,
    schedule=every(lambda _s: RECHECK_EVERY_S),
    description="Queue the time re-checks falling due in the next days",
)
register(
    "segments.rebuild",
    rebuild_everything,
    schedule=every(lambda s: s.segment_rebuild_interval_s),
    description="Full rebuild of every dynamic segment and rule tag (off unless the interval is set)",
)
