"""How events and schedules reach journeys: the event-log cursor (late PostgreSQL commits are not
skipped), what may start or move a run (stale history, events spoofed by a tracking source), cron
schedules (one broadcast per fire, missed fires collapsed), and a failing timer set aside alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.core.clock import as_utc
from siyu.core.database import dispose_engines
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.events.ingest import ingest
from siyu.journeys.scheduling import fire_schedules
from siyu.journeys.tables import BulkEntry, JourneyRun, JourneyTimer
from siyu.segments.tables import Segment, SegmentMember

from .runner_world import World, events, shanghai


def welcome(event: str = "Signed Up", template: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "name": "注册欢迎", "triggers": [{"type": "event", "event": event}], "start": "hi",
        "nodes": [{"type": "send", "id": "hi", "channel": "memory", "template_id": template,
                   "purpose": "service", "next": "done"}, {"type": "exit", "id": "done"}],
        **extra,
    }  # fmt: skip


def run_count(w: World) -> int:
    with w.session() as s:
        return int(s.scalar(select(func.count()).select_from(JourneyRun)) or 0)


@pytest.fixture
def world(db_url: str, frozen_clock: Any) -> World:
    frozen_clock.current = shanghai(2026, 11, 2, 10)
    w = World(db_url, frozen_clock)
    w.template("hi", "memory", "欢迎 {{ trigger.plan }}")
    w.template("plain", "memory", "本周精选")
    return w


def test_event_trigger_with_filter_and_trigger_properties(world: World) -> None:
    w = world
    w.journey(welcome(triggers=[{"type": "event", "event": "Signed Up",
                                 "where": [{"property": "plan", "op": "eq", "value": "gold"}]}]))  # fmt: skip
    w.identify("a")
    w.identify("b")
    w.track("a", "Signed Up", plan="gold")
    w.track("b", "Signed Up", plan="free")
    w.drive()
    assert [(m.recipient, m.body) for m in w.delivered()] == [("a", "欢迎 gold")]


def test_old_events_and_spoofed_system_events_start_nothing(world: World) -> None:
    w = world
    w.journey(welcome())
    w.journey(welcome(triggers=[{"type": "segment_entered", "segment_id": 4}]))
    w.identify("old")
    w.send({"type": "track", "userId": "old", "event": "Signed Up", "properties": {"plan": "x"},
            "timestamp": (w.now - timedelta(days=3)).isoformat()})  # fmt: skip
    w.track("old", "Segment Entered", segment_id=4)  # a tracking source cannot claim a system event
    w.drive()
    assert run_count(w) == 0 and w.delivered() == []


def test_stimuli_are_applied_once_even_when_the_cursor_rereads(world: World) -> None:
    w = world
    w.journey(welcome(reentry={"type": "always"}))
    w.identify("a")
    w.track("a", "Signed Up", plan="p")
    w.drive()
    with w.session() as s:
        from siyu.journeys.tables import RunnerCursor

        s.get(RunnerCursor, "events").position = 0  # as if the cursor had been lost
    w.drive()
    assert run_count(w) == 1 and len(w.delivered()) == 1  # the start key (the event) is unique per journey


@pytest.fixture
def pg_world(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, frozen_clock: Any
) -> Iterator[World]:
    server = request.getfixturevalue("pg_server")
    url = server.create_database(f"t_{uuid.uuid4().hex[:12]}", template="siyu_template")
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "test")
    get_settings.cache_clear()
    frozen_clock.current = shanghai(2026, 11, 2, 10)
    w = World(url, frozen_clock)
    w.template("hi", "memory", "欢迎 {{ trigger.plan }}")
    yield w
    dispose_engines()
    get_settings.cache_clear()


@pytest.mark.postgres
def test_postgres_cursor_waits_for_a_late_commit(pg_world: World) -> None:
    """An event whose id was drawn before a later event's, but committed after the cursor passed it."""
    w = pg_world
    w.journey(welcome())
    w.identify("slow")
    w.identify("fast")
    late = w.factory()
    message = {"type": "track", "userId": "slow", "event": "Signed Up", "properties": {"plan": "late"},
               "messageId": "late-1", "timestamp": w.now.isoformat()}  # fmt: skip
    ingest(late, get_settings(), get_vault(), source_id=w.source, raws=[message], received_at=w.now)
    late.flush()  # id drawn, not committed
    w.track("fast", "Signed Up", plan="fast")
    w.drive()
    assert [m.body for m in w.delivered()] == ["欢迎 fast"]
    late.commit()
    late.close()
    w.drive()
    assert sorted(m.body for m in w.delivered()) == ["欢迎 fast", "欢迎 late"]


def test_schedule_fires_once_per_cron_time_and_collapses_missed_fires(world: World) -> None:
    w = world
    ids = [w.identify(f"s{i}") for i in range(3)]
    with w.session() as s:
        s.add(Segment(id=3, name="周报", kind="static", version=1, created_at=w.now, updated_at=w.now,
                      created_by="test", member_count=3, transitions=0))  # fmt: skip
        s.flush()
        s.add_all([SegmentMember(segment_id=3, customer_id=c, entered_at=w.now) for c in ids])
    w.clock.current = shanghai(2026, 11, 2, 9)
    w.journey(welcome(triggers=[{"type": "schedule", "cron": "0 10 * * *", "segment_id": 3}],
                      reentry={"type": "after_days", "days": 1}, template="plain"))  # fmt: skip

    def fire() -> int:
        with w.session() as s:
            return fire_schedules(s, w.now)

    assert fire() == 0
    w.clock.current = shanghai(2026, 11, 2, 10, 5)
    assert fire() == 1 and fire() == 0
    w.drive()
    assert len(w.delivered()) == 3
    w.clock.current = shanghai(2026, 11, 5, 10, 5)  # three fires missed: one broadcast, the latest
    assert fire() == 1
    w.drive()
    assert len(w.delivered()) == 6
    with w.session() as s:
        keys = sorted(s.scalars(select(BulkEntry.start_key)))
    assert keys == ["schedule:2026-11-02T02:00:00+00:00", "schedule:2026-11-05T02:00:00+00:00"]


def test_a_large_start_is_split_into_shards_that_cover_everyone_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.journeys import scheduling, service

    monkeypatch.setattr(scheduling, "SHARD_MIN", 4)
    monkeypatch.setattr(scheduling, "SHARDS", 3)
    w = world
    ids = [w.identify(f"b{i}") for i in range(10)]
    manual = welcome(triggers=[{"type": "manual"}], template="plain")
    jid = w.journey(manual)
    with w.session() as s:
        queued = service.trigger(
            s, jid, now=w.now, actor="test", customer_ids=[*ids, *ids[:3]] * 100, key="b"
        )
    with w.session() as s:
        shards = list(s.scalars(select(BulkEntry).order_by(BulkEntry.id)))
        assert [(b.after_customer, b.until_customer) for b in shards] == [
            (0, ids[3]), (ids[3], ids[7]), (ids[7], None)]  # fmt: skip
    w.drive()
    assert sorted(m.recipient for m in w.delivered()) == sorted(f"b{i}" for i in range(10))
    with w.session() as s:
        progress = service.bulk_status(s, jid, queued["bulk_id"])
    assert (progress["status"], progress["shards"], progress["entered"]) == ("done", 3, 10)


def test_a_failing_timer_is_set_aside_alone(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    wait = {"name": "等待", "triggers": [{"type": "manual"}], "start": "w", "nodes": [
        {"type": "wait", "id": "w", "delay": {"type": "duration", "hours": 1}, "next": "hi"},
        {"type": "send", "id": "hi", "channel": "memory", "template_id": "plain", "purpose": "service",
         "next": "x"}, {"type": "exit", "id": "x"}]}  # fmt: skip
    jid = w.journey(wait)
    ids = [w.identify(f"t{i}") for i in range(4)]
    w.trigger(jid, ids, key="go")
    from siyu.journeys import runner

    real = runner.step

    def exploding(version: Any, state: Any, stimulus: Any, now: Any, **kw: Any) -> Any:
        if state.customer_id == ids[2]:
            raise RuntimeError("boom")
        return real(version, state, stimulus, now, **kw)

    monkeypatch.setattr(runner, "step", exploding)
    w.clock.current = w.now + timedelta(hours=1, minutes=1)
    w.drive()
    with w.session() as s:
        statuses = dict(s.execute(select(JourneyTimer.customer_id, JourneyTimer.status)).all())
    assert statuses == {ids[0]: "fired", ids[1]: "fired", ids[2]: "failed", ids[3]: "fired"}
    assert len(w.delivered()) == 3


def test_a_missing_tag_is_skipped_and_the_run_goes_on(world: World) -> None:
    w = world
    tagging = {"name": "打标签", "triggers": [{"type": "manual"}], "start": "tag", "nodes": [
        {"type": "tag", "id": "tag", "tag_id": 987654, "next": "hi"},
        {"type": "send", "id": "hi", "channel": "memory", "template_id": "plain", "purpose": "service",
         "next": "x"}, {"type": "exit", "id": "x"}]}  # fmt: skip
    jid = w.journey(tagging)
    cid = w.identify("t1")
    w.trigger(jid, [cid])
    w.drive()
    assert [m.body for m in w.delivered()] == ["本周精选"]
    with w.session() as s:
        assert s.scalar(select(JourneyRun.exit_reason)) == "completed"


def test_a_changed_date_trait_moves_the_entry(world: World) -> None:
    w = world
    greet = welcome(triggers=[{"type": "date_trait", "trait": "birthday", "at": "10:00", "annual": True}],
                    template="plain", reentry={"type": "after_days", "days": 300})  # fmt: skip
    w.journey(greet)
    w.identify("d1", birthday="1990-11-03")
    with w.session() as s:
        from siyu.journeys.scheduling import scan_dates

        assert scan_dates(s, w.now) == 1
    w.identify("d1", birthday="1990-11-20")  # corrected before the day
    w.clock.current = shanghai(2026, 11, 3, 11)
    w.drive()
    assert w.delivered() == [] and run_count(w) == 0  # the stale entry timer started nothing
    w.clock.current = shanghai(2026, 11, 19, 12)
    with w.session() as s:
        from siyu.journeys.scheduling import scan_dates

        assert scan_dates(s, w.now) == 1
    w.clock.current = shanghai(2026, 11, 20, 10, 5)
    w.drive()
    assert [m.recipient for m in w.delivered()] == ["d1"]


def test_the_first_activation_starts_reading_at_the_end_of_the_log(world: World) -> None:
    w = world
    w.identify("early")
    w.track("early", "Signed Up", plan="before")  # before any journey existed: not replayed
    w.journey(welcome())
    w.drive()
    assert run_count(w) == 0
    w.track("early", "Signed Up", plan="after")
    w.drive()
    assert [m.body for m in w.delivered()] == ["欢迎 after"]


def test_a_segment_start_that_waits_in_a_backlog_keeps_the_full_wait_after_the_send(world: World) -> None:
    """Customers of a bulk start enter when a worker reaches them: the wait after the first message counts
    from there, so a backlog never squeezes the two messages together (nor sets every timer due at once)."""
    from siyu.journeys import service

    w = world
    ids = [w.identify(f"q{i}") for i in range(3)]
    with w.session() as s:
        s.add(Segment(id=4, name="回访", kind="static", version=1, created_at=w.now, updated_at=w.now,
                      created_by="test", member_count=3, transitions=0))  # fmt: skip
        s.flush()
        s.add_all([SegmentMember(segment_id=4, customer_id=c, entered_at=w.now) for c in ids])
    two = {"name": "两条", "triggers": [{"type": "manual"}], "start": "a", "nodes": [
        {"type": "send", "id": "a", "channel": "memory", "template_id": "plain", "purpose": "service",
         "next": "w"},
        {"type": "wait", "id": "w", "delay": {"type": "duration", "hours": 1}, "next": "b"},
        {"type": "send", "id": "b", "channel": "memory", "template_id": "plain", "purpose": "service",
         "next": "x"}, {"type": "exit", "id": "x"}]}  # fmt: skip
    jid = w.journey(two)
    triggered = w.now
    with w.session() as s:
        service.trigger(s, jid, now=triggered, actor="test", segment_id=4, key="late")
    w.clock.current = triggered + timedelta(minutes=45)  # the worker reaches the start 45 minutes late
    w.drive()
    assert len(w.delivered()) == 3  # the first message each; the second waits a full hour from here
    with w.session() as s:
        dues = list(s.scalars(select(JourneyTimer.due_at).where(JourneyTimer.kind == "run")))
        entered = list(s.scalars(select(JourneyRun.entered_at)))
    assert len(dues) == 3 and {as_utc(d) for d in dues} == {triggered + timedelta(minutes=105)}
    assert {as_utc(e) for e in entered} == {triggered + timedelta(minutes=45)}
    w.advance(minutes=59)
    assert len(w.delivered()) == 3
    w.advance(minutes=1)
    assert len(w.delivered()) == 6


def test_a_paused_journey_holds_its_unsent_messages_until_active_or_expired(world: World) -> None:
    from siyu.journeys import service

    w = world
    send = {"name": "暂停", "triggers": [{"type": "manual"}], "start": "a", "nodes": [
        {"type": "send", "id": "a", "channel": "memory", "template_id": "plain", "purpose": "service",
         "expiry": {"type": "drop_after", "hours": 2}, "next": "x"},
        {"type": "exit", "id": "x"}]}  # fmt: skip
    jid = w.journey(send)
    first = [w.identify(f"p{i}") for i in range(2)]
    w.trigger(jid, first, key="one")
    with w.session() as s:
        service.transition(s, jid, "pause", now=w.now)
    w.advance(minutes=30)
    assert w.delivered() == [] and {m.status for m in w.outbox()} == {"pending"}
    with w.session() as s:
        service.transition(s, jid, "activate", now=w.now)
    w.drive()
    assert sorted(m.recipient for m in w.delivered()) == ["p0", "p1"]

    late = w.identify("p2")
    w.trigger(jid, [late], key="two")
    with w.session() as s:
        service.transition(s, jid, "pause", now=w.now)
    w.advance(hours=3)  # still paused when the message expires: dropped with its reason, never sent
    assert len(w.delivered()) == 2
    (dropped,) = w.outbox(customer_id=late)
    assert (dropped.status, dropped.reason_code) == ("dropped", "expired")
    assert [e["reason"] for e in events(w, "Message Dropped", late)] == ["expired"]
