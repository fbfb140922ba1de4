"""The background worker: the ingestion hook fills the queue, draining evaluates and empties it, claims never
overlap between workers on PostgreSQL (SKIP LOCKED), periodic jobs run once per period across workers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from siyu.core.database import session_factory, unit_of_work
from siyu.customers import merges
from siyu.customers.tables import Customer
from siyu.events.service import ingest_request
from siyu.segments import queue, service
from siyu.segments.jobs import drain
from siyu.segments.schemas import SegmentCreate
from siyu.segments.tables import EvaluationDue, SegmentMember
from siyu.worker.jobs import Job, daily, every
from siyu.worker.runner import Worker
from tests.segments.world import ensure_source

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _source() -> int:
    with unit_of_work() as s:
        return ensure_source(s)


def _track(source: int, user: str, n: int = 1, event: str = "Product Viewed") -> None:
    raws = [
        {
            "type": "track",
            "userId": user,
            "event": event,
            "messageId": f"{user}-{event}-{i}-{time.monotonic_ns()}",
        }
        for i in range(n)
    ]
    report = ingest_request(source, raws, None, None)
    assert not report.errors


def _segment(name: str = "viewers") -> int:
    root = {"type": "event_count", "event": "Product Viewed", "window": {"last_days": 7}, "value": 3}
    with unit_of_work() as s:
        return service.create(
            s,
            SegmentCreate(name=name, definition={"version": 1, "root": root}),
            actor="t",
            now=datetime.now(UTC),
        ).id


def _members(segment_id: int) -> set[int]:
    with session_factory()() as s:
        return set(s.scalars(select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment_id)))


def _queued(session: Session) -> dict[int, str]:
    return {c: r for c, r in session.execute(select(EvaluationDue.customer_id, EvaluationDue.reason))}


def test_ingestion_queues_and_the_worker_evaluates(db_url: str) -> None:
    source, segment = _source(), _segment()
    _track(source, "u1", 3)
    _track(source, "u2", 1)
    with session_factory()() as s:
        assert sorted(_queued(s).values()) == ["event", "event"]
    worker = Worker(jobs=[Job("segments.queue", drain)])
    assert worker.run_once() == 2
    with session_factory()() as s:
        u1 = s.scalar(text("SELECT customer_id FROM identities WHERE lookup = 'u1'"))
        assert _members(segment) == {u1}
        # both now wait for the day their views leave the 7-day window
        assert sorted(_queued(s).values()) == ["recheck", "recheck"]
    assert worker.run_once() == 0  # nothing due now


def test_merges_requeue_both_customers(session: Session) -> None:
    a, b = Customer(created_at=NOW), Customer(created_at=NOW)
    session.add_all([a, b])
    session.flush()
    record = merges.merge(session, a.id, b.id, reason="test", actor="t")
    assert set(_queued(session)) == {a.id, b.id}
    session.execute(text("DELETE FROM segment_queue"))
    merges.undo(session, record.id, actor="t")
    assert _queued(session) == {a.id: "merge", b.id: "merge"}


def test_claims_take_due_rows_earliest_first(session: Session) -> None:
    ids = []
    for _ in range(5):
        c = Customer(created_at=NOW)
        session.add(c)
        session.flush()
        ids.append(c.id)
    queue.enqueue(session, {ids[0]: NOW + timedelta(hours=1), ids[1]: NOW - timedelta(hours=1)}, "recheck")
    queue.enqueue_now(session, ids[2:], NOW)
    queue.enqueue(session, {ids[1]: NOW + timedelta(days=3)}, "recheck")  # later: the earlier time stays
    assert queue.pending(session, NOW) == 4
    assert queue.claim(session, NOW, 2) == {ids[1]: "recheck", ids[2]: "event"}
    assert set(queue.claim(session, NOW, 10)) == {ids[3], ids[4]}
    assert queue.claim(session, NOW, 10) == {}
    assert queue.claim(session, NOW + timedelta(hours=2), 10) == {ids[0]: "recheck"}


def test_an_earlier_enqueue_moves_due_time_and_reason_a_later_one_changes_nothing(session: Session) -> None:
    c = Customer(created_at=NOW)
    session.add(c)
    session.flush()
    queue.enqueue(session, {c.id: NOW + timedelta(hours=1)}, "recheck")
    queue.enqueue(session, {c.id: NOW + timedelta(hours=5)}, "manual")  # later: nothing changes
    assert _queued(session) == {c.id: "recheck"}
    assert queue.claim(session, NOW + timedelta(minutes=59), 10) == {}
    queue.enqueue(session, {c.id: NOW - timedelta(minutes=1)}, "event")  # earlier: time and reason move
    assert queue.claim(session, NOW, 10) == {c.id: "event"}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SKIP LOCKED; SQLite runs one worker
def test_two_workers_never_claim_the_same_customer(db_url: str) -> None:
    with unit_of_work() as s:
        s.execute(text("INSERT INTO customers (created_at) SELECT now() FROM generate_series(1, 3000)"))
        ids = list(s.scalars(select(Customer.id)))
        queue.enqueue_now(s, ids, NOW)
    claimed: list[list[int]] = [[], []]

    def work(slot: int) -> None:
        while True:
            with session_factory()() as s:
                got = queue.claim(s, NOW, 50)
                if not got:
                    return
                time.sleep(0.002)  # hold the rows while "evaluating"
                claimed[slot].extend(got)
                s.commit()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert claimed[0] and claimed[1], "both workers should have had work"
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)


def test_two_draining_workers_agree_with_one(db_url: str) -> None:
    """Two workers drain concurrently (on SQLite they take turns): every customer is evaluated once."""
    source, segment = _source(), _segment()
    for i in range(40):
        _track(source, f"w{i}", 3 if i % 2 else 1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Worker(jobs=[Job("segments.queue", drain)]).run_once()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(_members(segment)) == 20
    with session_factory()() as s:
        entered = s.scalar(text("SELECT count(*) FROM events WHERE name = 'Segment Entered'"))
        assert entered == 20
        assert (
            s.scalar(select(func.count()).select_from(EvaluationDue).where(EvaluationDue.reason == "event"))
            == 0
        )


def test_periodic_jobs_run_once_per_period(db_url: str) -> None:
    runs: list[datetime] = []

    def job(_factory: object, now: datetime) -> int:
        runs.append(now)
        return 1

    hourly = Job("test.hourly", job, schedule=every(lambda _s: 3600))
    nightly = Job("test.nightly", job, schedule=daily(lambda _s: 3))  # 03:00 Shanghai = 19:00 UTC
    one, two = Worker(jobs=[hourly, nightly]), Worker(jobs=[hourly, nightly])
    one.run_once(NOW)
    two.run_once(NOW + timedelta(minutes=5))
    assert runs == [NOW]  # hourly ran once; nightly only noted when it was first seen
    one.run_once(NOW + timedelta(hours=1))
    assert runs == [NOW, NOW + timedelta(hours=1)]
    at_three = datetime(2026, 11, 1, 19, 0, 1, tzinfo=UTC)
    two.run_once(at_three)
    one.run_once(at_three + timedelta(minutes=1))
    assert runs[2:] == [at_three, at_three]  # hourly (due again) and nightly, each once


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # row locks between workers
def test_a_periodic_job_running_elsewhere_is_skipped(db_url: str) -> None:
    runs: list[int] = []
    hourly = Job("test.locked", lambda _f, _n: runs.append(1) or 1, schedule=every(lambda _s: 3600))
    Worker(jobs=[hourly]).run_once(NOW)
    with session_factory()() as holder:
        holder.execute(text("SELECT 1 FROM job_runs WHERE name = 'worker:test.locked' FOR UPDATE"))
        Worker(jobs=[hourly]).run_once(NOW + timedelta(hours=2))
        assert runs == [1]
    Worker(jobs=[hourly]).run_once(NOW + timedelta(hours=2))
    assert runs == [1, 1]
