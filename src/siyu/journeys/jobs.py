"""The journey runner's worker jobs (`siyu worker`, and the in-process worker of `siyu serve`): new events,
due timers, bulk entries (segments, lists), schedule triggers and the hourly date-trait scan.

Each batch is one transaction (`runner_batch_size` items). A batch that fails is retried item by item;
an item that still fails is set aside (timer status `failed`, event skipped) and logged, so one bad row
never blocks the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from siyu.core import clock
from siyu.core.database import write_lock
from siyu.core.settings import get_settings
from siyu.messaging import jobs as messaging_jobs
from siyu.worker.jobs import SessionFactory, every, register

from . import store
from .runner import Batch, Entry
from .runtime import Timer
from .scheduling import fire_schedules, process_bulk, scan_dates, still_due
from .tables import JourneyTimer
from .triggers_io import process_events

log = logging.getLogger(__name__)
BUDGET_S = 1.0  # a job returns after about this long, so the other jobs get their turn


def _budgeted(batch: Callable[[], int]) -> int:
    """Call `batch` until it reports 0 (nothing left) or the budget is spent; the total done."""
    started, done = time.monotonic(), 0
    while time.monotonic() - started < BUDGET_S:
        n = batch()
        done += n
        if n == 0:
            break
    return done


def _fire(session: Session, timers: list[store.DueTimer], now: datetime) -> None:
    batch = Batch(session, now)
    batch.deliver([(t.run_id, Timer(key=t.key, at=t.due_at)) for t in timers if t.kind == "run" and t.run_id])
    entries = still_due(session, [t for t in timers if t.kind == "entry"])
    batch.start(
        [Entry(t.journey_id, t.customer_id, str((t.payload or {})["start_key"]), t.due_at) for t in entries]
    )
    batch.finish()
    store.mark_fired(session, [t.id for t in timers], now)


def timers_batch(factory: SessionFactory, now: datetime, size: int | None = None) -> int:
    """Fire one batch of due timers in one transaction; returns how many (0: none due)."""
    size = size or get_settings().runner_batch_size
    with factory() as session, write_lock(session):
        timers = store.claim_timers(session, now, size, store.running_journey_ids(session))
        if not timers:
            return 0
        try:
            _fire(session, timers, now)
            session.commit()
            return len(timers)
        except Exception:
            session.rollback()
            if len(timers) == 1:
                log.exception("journey timer %s failed; set aside", timers[0].key)
                t = JourneyTimer.__table__.c
                session.execute(
                    update(JourneyTimer).where(t.id == timers[0].id).values(status="failed", fired_at=now)
                )
                session.commit()
                return 1
    for timer in timers:  # retry one by one: only the bad ones are set aside
        _single(factory, timer, now)
    return len(timers)


def _single(factory: SessionFactory, timer: store.DueTimer, now: datetime) -> None:
    with factory() as session, write_lock(session):
        claimed = [t for t in store.claim_timers(session, now, 1, [timer.journey_id]) if t.id == timer.id]
        if claimed:
            try:
                _fire(session, claimed, now)
                session.commit()
                return
            except Exception:
                session.rollback()
                log.exception("journey timer %s failed; set aside", timer.key)
        t = JourneyTimer.__table__.c
        session.execute(
            update(JourneyTimer)
            .where(t.id == timer.id, t.status == "pending")
            .values(status="failed", fired_at=now)
        )
        session.commit()


def run_timers(factory: SessionFactory, now: datetime) -> int:
    """Fire due journey timers (runs waiting, scheduled entries)."""
    return _budgeted(lambda: timers_batch(factory, now))


def events_batch(factory: SessionFactory, now: datetime, size: int | None = None) -> int:
    """Apply the next stored events to journeys; on failure, one event at a time (a bad one is skipped)."""
    size = size or get_settings().runner_batch_size
    with factory() as session, write_lock(session):
        try:
            done = process_events(session, now, size)
            session.commit()
            return done or 0
        except Exception:
            session.rollback()
            if size == 1:
                log.exception("journey event after the cursor failed; skipped")
                return _skip_one(session, now)
    return sum(events_batch(factory, now, 1) for _ in range(size))


def _skip_one(session: Session, now: datetime) -> int:
    from .triggers_io import EVENTS_CURSOR, _read, lock_cursor

    cursor = lock_cursor(session, EVENTS_CURSOR, now)
    if cursor is None:
        return 0
    ids, _ = _read(session, cursor, 1, now)
    session.commit()
    return len(ids)


def run_events(factory: SessionFactory, now: datetime) -> int:
    """Start journeys from new events and move waiting runs (waits, goals, completed tasks)."""
    return _budgeted(lambda: events_batch(factory, now))


def _in_transaction(work: Callable[[Session, datetime], Any]) -> Callable[[SessionFactory, datetime], int]:
    def job(factory: SessionFactory, now: datetime) -> int:
        with factory() as session, write_lock(session):
            done = int(work(session, now) or 0)
            session.commit()
        return done

    job.__doc__ = work.__doc__
    return job


def due_timers(factory: SessionFactory, now: datetime) -> int:
    """Fire what is due between the batches of a long job, so timers do not wait for the next poll."""
    done = 0
    while (n := timers_batch(factory, now)) > 0:
        done += n
    return done


def run_bulk(factory: SessionFactory, now: datetime) -> int:
    """Start runs for queued bulk entries (segments, customer lists), a batch per transaction."""
    size = get_settings().runner_batch_size
    one = _in_transaction(lambda session, at: process_bulk(session, at, size))

    def batch() -> int:
        n = one(factory, now)
        if n:
            due_timers(factory, max(now, clock.now()))
        return n

    return _budgeted(batch)


messaging_jobs.BETWEEN_BATCHES.append(due_timers)
register("journeys.events", run_events)
register("journeys.timers", run_timers)
register("journeys.bulk", run_bulk)
register("journeys.schedules", _in_transaction(fire_schedules), schedule=every(lambda s: 10.0))
register("journeys.dates", _in_transaction(scan_dates), schedule=every(lambda s: 3600.0))
