"""Group commit: several prepared batches written in one transaction end up exactly as if each had been
ingested alone, one after the other, and every request gets its own report."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.core.database import unit_of_work
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import CustomerStats, DailyEventCount, Identity, Trait
from siyu.events import service
from siyu.events.ingest import ingest, prepare, write
from siyu.events.tables import Event

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _batches(tag: str) -> list[list[dict[str, Any]]]:
    """Three batches for users of namespace `tag`: new customers, trait updates out of order, an
    order, a messageId repeated across batches, an invalid message and a merge through a shared phone."""

    phone = {"s": "13900000001", "g": "13900000002", "c": "13900000003"}[tag]

    def at(minutes: int) -> str:
        return (T0 + timedelta(minutes=minutes)).isoformat()

    def msg(i: str, **fields: Any) -> dict[str, Any]:
        return {"messageId": f"{tag}-{i}", "timestamp": fields.pop("ts"), **fields}

    first = [
        msg("1", type="identify", userId=f"{tag}-u1", traits={"tier": "a", "phone": phone}, ts=at(5)),
        msg(
            "2", type="track", userId=f"{tag}-u1", event="Product Viewed", properties={"sku": "s1"}, ts=at(6)
        ),
        msg("3", type="track", anonymousId=f"{tag}-anon", event="Coupon Claimed", ts=at(7)),
    ]
    second = [
        msg("2", type="track", userId=f"{tag}-u1", event="Product Viewed", ts=at(6)),  # duplicate of batch 1
        msg(
            "4", type="identify", userId=f"{tag}-u1", traits={"tier": "old"}, ts=at(1)
        ),  # older: history only
        {"type": "track", "messageId": f"{tag}-bad", "userId": f"{tag}-u2"},  # no event name
        msg(
            "5",
            type="track",
            userId=f"{tag}-u2",
            event="Order Completed",
            properties={"order_id": f"{tag}-o1", "total": 120.5, "currency": "CNY"},
            ts=at(9),
        ),
    ]
    third = [
        # the anonymous visitor gives the same phone as u1 (no user id of their own): one customer
        msg("6", type="identify", anonymousId=f"{tag}-anon", traits={"phone": phone}, ts=at(10)),
        msg("7", type="identify", userId=f"{tag}-u1", traits={"tier": "b"}, ts=at(11)),
    ]
    return [first, second, third]


def _state(session: Session, source_id: int) -> list[Any]:
    """What the database holds for the source's customers, with customer ids replaced by the order in
    which they first appear in the event log (the two runs create different ids)."""
    events = session.execute(
        select(Event.customer_id, Event.message_id, Event.type, Event.name)
        .where(Event.source_id == source_id)
        .order_by(Event.message_id)
    ).all()
    order: dict[int, int] = {}
    for cid, *_ in events:
        order.setdefault(cid, len(order))
    ids = list(order)
    prefix_len = len(events[0].message_id.split("-")[0]) + 1 if events else 0
    stats = {
        order[s.customer_id]: (
            s.events_count,
            s.first_seen_at,
            s.last_seen_at,
            s.orders_count,
            s.total_spent_minor,
        )
        for s in session.scalars(select(CustomerStats).where(CustomerStats.customer_id.in_(ids)))
    }
    rollups = sorted(
        (order[r.customer_id], r.day, r.event, r.count)
        for r in session.scalars(select(DailyEventCount).where(DailyEventCount.customer_id.in_(ids)))
    )
    vault = get_vault()
    traits = sorted(
        (
            order[t.customer_id],
            t.name,
            # each run has its own phone number, differing in the last digit
            vault.decrypt_json(t.value_enc)[:-1] if t.value_enc else t.value,
            t.observed_at,
        )
        for t in session.scalars(select(Trait).where(Trait.customer_id.in_(ids)))
    )
    identities = sorted(
        (order[i.customer_id], i.type)
        for i in session.scalars(select(Identity).where(Identity.customer_id.in_(ids)))
    )
    log = [(order[cid], m[prefix_len:], kind, name) for cid, m, kind, name in events]
    return [log, stats, rollups, traits, identities]


def _sources() -> tuple[int, int]:
    with unit_of_work() as s:
        grouped, _ = create_source(s, "grouped")
        alone, _ = create_source(s, "alone")
        return grouped.id, alone.id


def test_grouped_write_equals_batches_written_one_by_one(db_url: str, session: Session) -> None:
    grouped_source, alone_source = _sources()
    settings, vault = get_settings(), get_vault()
    received = T0 + timedelta(hours=1)

    reports_alone = []
    for raws in _batches("s"):
        with unit_of_work() as s:
            reports_alone.append(
                ingest(s, settings, vault, source_id=alone_source, raws=raws, received_at=received)
            )

    prepared = [
        prepare(settings, vault, source_id=grouped_source, raws=raws, received_at=received)
        for raws in _batches("g")
    ]
    with unit_of_work() as s:
        reports_grouped = write(s, vault, prepared)

    assert [(r.accepted, r.duplicates) for r in reports_grouped] == [(3, 0), (2, 1), (2, 0)]
    assert [(r.accepted, r.duplicates) for r in reports_alone] == [(3, 0), (2, 1), (2, 0)]
    assert [[(e.index, e.field) for e in r.errors] for r in reports_grouped] == [[], [(2, "event")], []]
    # Alone, the visitor was stored as a customer by batch 1 and merged by batch 3 (a merge record);
    # grouped, they were still pending and became one customer before anything was stored, as within
    # one batch. Either way the customers, events, identities, traits and stats below are the same.
    assert [len(r.merges) for r in reports_alone] == [0, 0, 1]
    assert [len(r.merges) for r in reports_grouped] == [0, 0, 0]
    grouped, alone = _state(session, grouped_source), _state(session, alone_source)
    assert grouped == alone
    log, stats, _rollups, traits, _identities = grouped
    assert len(log) == 7
    assert {c for c, *_ in log} == {0, 1}  # u1 (with the merged visitor) and u2
    assert stats[0][0] == 6 and stats[1][0] == 1 and stats[1][3:] == (1, 12050)
    assert (0, "tier", "b") in [(c, n, v) for c, n, v, _ in traits]


def test_concurrent_requests_share_a_commit_and_get_their_own_reports(db_url: str) -> None:
    grouped_source, _ = _sources()
    batches = [[*b] for b in _batches("c")]
    results: dict[int, Any] = {}
    barrier = threading.Barrier(len(batches))

    def send(n: int) -> None:
        barrier.wait()
        results[n] = service.ingest_request(grouped_source, batches[n], None, None)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [0, 1, 2]
    # whatever the grouping, the three requests together account for every message exactly once
    assert sum(r.accepted for r in results.values()) == 7
    assert sum(r.duplicates for r in results.values()) == 1
    assert sum(len(r.errors) for r in results.values()) == 1
    assert [(e.index, e.field) for e in results[1].errors] == [(2, "event")]
    with unit_of_work() as s:
        stored = s.scalars(select(Event.message_id).where(Event.source_id == grouped_source)).all()
    assert sorted(stored) == sorted(f"c-{i}" for i in range(1, 8))
