"""Events siyu writes itself: stored once per key, shown on the timeline, never counted as activity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.auth.tables import Source
from siyu.core.pii import get_vault
from siyu.customers import search, stats
from siyu.customers.tables import CustomerStats, DailyEventCount
from siyu.events import system, timeline
from siyu.events.tables import Event
from tests.customers.identity_model import ensure_source, send

AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _customer(session: Session) -> int:
    source_id = ensure_source(session)
    send(session, source_id, [{"type": "track", "userId": "u-sys", "event": "Viewed"}], [0])
    ids = search.by_identity(session, get_vault(), "user_id:u-sys")
    assert len(ids) == 1
    return ids[0]


def test_system_source_cannot_take_a_write_key(session: Session) -> None:
    source = session.scalar(select(Source).where(Source.name == system.SYSTEM_SOURCE))
    assert source is not None and source.disabled
    assert len(source.write_key_hash) != 64


def test_same_key_is_stored_once_and_shows_on_the_timeline(session: Session) -> None:
    cid = _customer(session)
    entered = system.SystemEvent(cid, "Segment Entered", "segment:1:entered:1", AT, {"segment_id": 1})
    system.record(session, [entered], received_at=AT)
    system.record(session, [entered], received_at=AT)
    session.commit()
    names = session.scalars(select(Event.name).where(Event.customer_id == cid)).all()
    assert sorted(n or "" for n in names) == ["Segment Entered", "Viewed"]
    items, _ = timeline.page(session, get_vault(), cid, cursor=None, limit=10, sees_pii=False)
    shown: dict[str, Any] = {i["name"]: i for i in items}
    assert shown["Segment Entered"]["properties"] == {"segment_id": 1}


def test_rebuilt_stats_ignore_system_events(session: Session) -> None:
    cid = _customer(session)
    before = session.get(CustomerStats, cid)
    assert before is not None and before.events_count == 1
    system.record(
        session, [system.SystemEvent(cid, "Lifecycle Stage Changed", "stage:x", AT)], received_at=AT
    )
    stats.rebuild(session, cid)
    session.commit()
    session.expire_all()
    after = session.get(CustomerStats, cid)
    assert after is not None and after.events_count == 1
    rollups = session.scalar(
        select(func.count()).select_from(DailyEventCount).where(DailyEventCount.customer_id == cid)
    )
    assert rollups == 1


def test_many_events_in_chunks_each_stored_once(session: Session) -> None:
    cid = _customer(session)
    many = [system.SystemEvent(cid, "Tag Added", f"bulk:{i}", AT, {"i": i}) for i in range(2500)]
    system.record(session, many[:1200], received_at=AT)
    system.record(session, many, received_at=AT)  # the first 1,200 again: skipped, not doubled
    session.commit()
    source_id = system.system_source_id(session)
    stored = session.scalar(select(func.count()).select_from(Event).where(Event.source_id == source_id))
    assert stored == 2500
