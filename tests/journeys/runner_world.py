"""Test support for the durable runner: a brand built through real ingestion, journeys and templates saved
through the services, memory channels installed under the playbooks' channel names, and `drive()`, which
runs the worker's journey and outbox jobs until there is nothing left to do at the frozen time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import registry
from siyu.channels.memory import MemoryChannel
from siyu.consent.tables import Consent
from siyu.core import clock
from siyu.core.database import session_factory, write_lock
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import Identity
from siyu.events.ingest import ingest
from siyu.journeys import jobs as journey_jobs
from siyu.journeys import service
from siyu.journeys.tables import Journey
from siyu.messaging import jobs as messaging_jobs
from siyu.messaging import template_store
from siyu.messaging.tables import OutboxMessage
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags import service as tags

CHANNELS = ("memory", "wecom", "sms_aliyun", "email", "webhook")


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


class World:
    def __init__(self, db_url: str, clock_: Any) -> None:
        self.factory: sessionmaker[Session] = session_factory(db_url)
        self.clock = clock_
        self.sent = 0
        self.channels = {name: MemoryChannel(name=name) for name in CHANNELS}
        for name, channel in self.channels.items():
            registry.install(channel, as_name=name)
        with self.session() as s:
            from siyu.auth.service import create_source

            source, _ = create_source(s, f"shop-{uuid.uuid4().hex[:6]}")
            self.source = source.id

    def session(self) -> Any:
        return _Unit(self.factory)

    @property
    def now(self) -> datetime:
        return clock.now()

    # --- data ----------------------------------------------------------------------------------------

    def send(self, *messages: dict[str, Any]) -> None:
        raws = []
        for m in messages:
            self.sent += 1
            raws.append(
                {"messageId": f"m{self.sent}-{uuid.uuid4().hex[:6]}", "timestamp": self.now.isoformat(), **m}
            )
        with self.session() as s:
            report = ingest(
                s, get_settings(), get_vault(), source_id=self.source, raws=raws, received_at=self.now
            )
            assert not report.errors, report.errors

    def identify(self, user: str, **traits: Any) -> int:
        self.send({"type": "identify", "userId": user, "traits": traits})
        return self.customer(user)

    def track(self, user: str, event: str, **props: Any) -> None:
        self.send({"type": "track", "userId": user, "event": event, "properties": props})

    def customer(self, user: str) -> int:
        with self.session() as s:
            cid = s.scalar(
                select(Identity.customer_id).where(Identity.type == "user_id", Identity.value == user)
            )
        assert cid is not None, user
        return int(cid)

    def owner(self, customer_id: int, userid: str = "zhangsan", name: str = "张三") -> int:
        with self.session() as s:
            staff = s.scalar(select(Staff).where(Staff.userid == userid))
            if staff is None:
                staff = Staff(userid=userid, name=name, active=True, created_at=self.now)
                s.add(staff)
                s.flush()
            s.merge(CustomerOwner(customer_id=customer_id, staff_id=staff.id, assigned_at=self.now))
            return int(staff.id)

    def consent(self, customer_id: int, channel: str, purpose: str, status: str) -> None:
        with self.session() as s:
            s.merge(Consent(customer_id=customer_id, channel=channel, purpose=purpose, status=status,
                            updated_at=self.now, origin="test"))  # fmt: skip

    def tag(self, name: str) -> int:
        with self.session() as s:
            group = tags.ensure_group(s, "旅程测试", category="custom", kind="static", exclusive=False)
            return int(tags.ensure_tag(s, group.id, name).id)

    def template(self, template_id: str, channel: str, body: str, **extra: Any) -> None:
        with self.session() as s:
            template_store.save(s, template_id, {"channel": channel, "body": body, **extra}, actor="test",
                                now=self.now)  # fmt: skip

    def journey(self, definition: dict[str, Any], *, activate: bool = True) -> int:
        with self.session() as s:
            journey = service.create(s, definition, actor="test", now=self.now)
            if activate:
                service.transition(s, journey.id, "activate", now=self.now)
            return int(journey.id)

    def segment_entered(self, customer_id: int, segment_id: int) -> None:
        from siyu.events.system import SystemEvent, record

        key = f"segment:{segment_id}:entered:{customer_id}:{uuid.uuid4().hex[:6]}"
        with self.session() as s:
            event = SystemEvent(customer_id, "Segment Entered", key, self.now, {"segment_id": segment_id})
            record(s, [event], received_at=self.now)

    def scan_dates(self) -> int:
        from siyu.journeys.scheduling import scan_dates

        with self.session() as s:
            return scan_dates(s, self.now)

    def tasks(self, customer_id: int) -> list[Any]:
        from siyu.journeys import tasks

        with self.session() as s:
            return tasks.list_tasks(s, customer_id=customer_id)

    def complete_task(self, task_id: int) -> None:
        from siyu.journeys import tasks

        with self.session() as s:
            tasks.complete(s, task_id, actor="advisor", now=self.now)

    def trigger(self, journey_id: int, customer_ids: list[int], key: str = "t1") -> dict[str, Any]:
        with self.session() as s:
            return service.trigger(
                s, journey_id, now=self.now, actor="test", customer_ids=customer_ids, key=key
            )

    # --- running -------------------------------------------------------------------------------------

    def drive(self, rounds: int = 50) -> int:
        """Run the journey and outbox jobs at the current (frozen) time until a round does nothing."""
        total = 0
        for _ in range(rounds):
            now = self.now
            done = sum(
                job(self.factory, now)
                for job in (
                    journey_jobs.run_events,
                    journey_jobs.run_timers,
                    journey_jobs.run_bulk,
                    messaging_jobs.run_dispatch,
                )
            )
            total += done
            if done == 0:
                return total
        raise AssertionError("the runner did not settle")

    def advance(self, **delta: float) -> None:
        """Move the clock forward, stopping at each due timer or message on the way to drive the runner
        (as a worker polling all along would)."""
        target = self.now + timedelta(**delta)
        self.drive()
        while self.now < target:
            upcoming = self._next_due()
            self.clock.current = target if upcoming is None or upcoming > target else upcoming
            self.drive()

    def _next_due(self) -> datetime | None:
        from sqlalchemy import func

        from siyu.journeys.tables import JourneyTimer

        with self.session() as s:
            t, o = JourneyTimer, OutboxMessage
            timer = s.scalar(select(func.min(t.due_at)).where(t.status == "pending", t.due_at > self.now))
            message = s.scalar(
                select(func.min(o.next_attempt_at)).where(
                    o.status.in_(("pending", "deferred")), o.next_attempt_at > self.now
                )
            )
        found = [clock.as_utc(x) for x in (timer, message) if x is not None]
        return min(found) if found else None

    def outbox(self, **where: Any) -> list[OutboxMessage]:
        with self.session() as s:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            for key, value in where.items():
                query = query.where(getattr(OutboxMessage, key) == value)
            return list(s.scalars(query))

    def delivered(self, channel: str = "memory") -> list[Any]:
        return [d.message for d in self.channels[channel].deliveries]

    def journey_row(self, journey_id: int) -> Journey:
        with self.session() as s:
            row = s.get(Journey, journey_id)
            assert row is not None
            return row


class _Unit:
    """A session that commits on a clean exit (SQLite writers serialised like the worker's)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.session = factory()
        self.lock = write_lock(self.session)

    def __enter__(self) -> Session:
        self.lock.__enter__()
        return self.session

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            if kind is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.lock.__exit__(None, None, None)
            self.session.close()


def events(world: World, name: str, customer_id: int | None = None) -> Iterator[dict[str, Any]]:
    from siyu.events.tables import Event

    with world.session() as s:
        query = select(Event.customer_id, Event.properties, Event.timestamp).where(Event.name == name)
        if customer_id is not None:
            query = query.where(Event.customer_id == customer_id)
        rows = list(s.execute(query.order_by(Event.id)))
    for cid, props, at in rows:
        yield {"customer_id": cid, "at": at, **props}
