"""Entries that are not caused by one event: bulk entries (a segment or a list of customers, started in
resumable batches), schedule triggers (each cron fire becomes a bulk entry of the segment), and date-trait
triggers (a scan turns trait dates into entry timers due at the local fire time).

All of it is idempotent by key: a bulk entry per fire time, an entry timer per customer and fire date, a
run per (journey, customer, start key).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.clock import as_utc
from siyu.core.database import chunks, insert_for
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import Trait
from siyu.messaging.localtime import local_date, zone

from . import store
from .entry import date_trait_fires_at, schedule_fires_at
from .runner import Batch, Entry, timezones
from .tables import BulkEntry, Journey
from .triggers import DateTraitTrigger, ScheduleTrigger
from .triggers_io import lock_cursor

DATE_HORIZON = timedelta(hours=26)  # the date scan runs hourly; entry timers are made this far ahead


SHARDS = 8  # a start of more than SHARD_MIN customers is split so several workers can share it
SHARD_MIN = 2000


def create_bulk(
    session: Session,
    *,
    key: str,
    journey_id: int,
    start_key: str,
    now: datetime,
    segment_id: int | None = None,
    customer_ids: Sequence[int] | None = None,
    properties: dict[str, Any] | None = None,
    created_by: str = "system",
) -> BulkEntry:
    """Queue a bulk entry (idempotent by `key`), split into shards of customer id ranges; the workers
    start the runs in batches. Returns the first shard (the handle for `bulk_progress`)."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    bounds = _bounds(session, segment_id, ids)
    base = {"journey_id": journey_id, "segment_id": segment_id, "start_key": start_key,
            "properties": properties or {}, "status": "pending", "entered": 0, "skipped": 0,
            "created_at": now, "created_by": created_by[:100]}  # fmt: skip
    rows = []
    for i, (after, until) in enumerate(bounds):
        part = None if ids is None else [c for c in ids if c > after and (until is None or c <= until)]
        rows.append({**base, "key": f"{key}:{i}", "after_customer": after, "until_customer": until,
                     "customer_ids": part})  # fmt: skip
    stmt = insert_for(session.get_bind().dialect.name, BulkEntry.__table__).on_conflict_do_nothing(
        index_elements=["key"]
    )
    session.execute(stmt, rows)
    return session.scalars(select(BulkEntry).where(BulkEntry.key == f"{key}:0")).one()


def _bounds(session: Session, segment_id: int | None, ids: list[int] | None) -> list[tuple[int, int | None]]:
    """(after, until) customer id ranges of the shards: equal parts of the segment or the list."""
    if ids is not None:
        members = ids
    else:
        from siyu.segments.tables import SegmentMember

        m = SegmentMember.__table__.c
        query = select(m.customer_id).where(m.segment_id == segment_id).order_by(m.customer_id)
        members = [int(c) for c in session.scalars(query)]
    if len(members) < SHARD_MIN:
        return [(0, None)]
    size = -(-len(members) // SHARDS)
    lasts = [members[min(i + size, len(members)) - 1] for i in range(0, len(members), size)]
    return [
        (0 if i == 0 else lasts[i - 1], None if i == len(lasts) - 1 else last) for i, last in enumerate(lasts)
    ]


def bulk_progress(session: Session, bulk: BulkEntry) -> dict[str, Any]:
    """Progress of a bulk entry over all its shards (those with its journey and start key)."""
    query = select(BulkEntry).where(
        BulkEntry.journey_id == bulk.journey_id, BulkEntry.start_key == bulk.start_key
    )
    shards = list(session.scalars(query))
    done = all(s.status == "done" for s in shards)
    finished = max((s.done_at for s in shards if s.done_at), default=None) if done else None
    return {"id": bulk.id, "journey_id": bulk.journey_id, "segment_id": bulk.segment_id,
            "start_key": bulk.start_key, "status": "done" if done else "pending", "shards": len(shards),
            "entered": sum(s.entered for s in shards), "skipped": sum(s.skipped for s in shards),
            "created_at": bulk.created_at, "done_at": finished}  # fmt: skip


def _next_customers(session: Session, bulk: BulkEntry, limit: int) -> list[int]:
    until = bulk.until_customer
    if bulk.customer_ids is not None:
        return [c for c in bulk.customer_ids if c > bulk.after_customer and (until is None or c <= until)][
            :limit
        ]
    from siyu.segments.tables import SegmentMember

    m = SegmentMember.__table__.c
    query = (
        select(m.customer_id)
        .where(m.segment_id == bulk.segment_id, m.customer_id > bulk.after_customer)
        .order_by(m.customer_id)
        .limit(limit)
    )
    if until is not None:
        query = query.where(m.customer_id <= until)
    return [int(c) for c in session.scalars(query)]


def process_bulk(session: Session, now: datetime, limit: int) -> int:
    """Start the next batch of one pending bulk entry; returns the customers handled (0: none pending)."""
    query = (
        select(BulkEntry)
        .where(BulkEntry.status == "pending")
        .order_by(BulkEntry.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    bulk = session.scalars(query).first()
    if bulk is None:
        return 0
    ids = _next_customers(session, bulk, limit)
    batch = Batch(session, now)
    # each customer enters when a worker reaches them, not at the trigger time: a wait after a send then
    # lasts as long for the last customer of a large segment as for the first (counted from the trigger,
    # a backlog shortened it, down to nothing, and the timers of a whole segment fell due at once)
    batch.start([Entry(bulk.journey_id, cid, bulk.start_key, now, bulk.properties) for cid in ids])
    batch.finish()
    bulk.entered += batch.entered
    bulk.skipped += batch.skipped
    if ids:
        bulk.after_customer = ids[-1]
    if len(ids) < limit:
        bulk.status, bulk.done_at = "done", now
    return max(len(ids), 1)


def fire_schedules(session: Session, now: datetime) -> int:
    """Each schedule trigger of an active journey whose cron fired since its last fire: one bulk entry of
    its segment (only the latest missed fire, so a stopped worker does not replay a week of broadcasts)."""
    brand = get_settings().timezone
    created = 0
    for journey in store.live_journeys(session):
        for i, trigger in enumerate(journey.version.definition.triggers):
            if not isinstance(trigger, ScheduleTrigger):
                continue
            cursor = lock_cursor(session, f"schedule:{journey.id}:{i}", now)
            if cursor is None:
                continue
            last = cursor.data.get("last")
            after = datetime.fromisoformat(last) if last else _activated(session, journey.id, now)
            due = None
            fire = schedule_fires_at(trigger, after, brand)
            while fire <= now:
                due, fire = fire, schedule_fires_at(trigger, fire, brand)
            if due is None:
                if not last:
                    cursor.data = {"last": after.isoformat()}
                continue
            stamp = due.isoformat()
            create_bulk(session, key=f"schedule:{journey.id}:{i}:{stamp}", journey_id=journey.id,
                        start_key=f"schedule:{stamp}", segment_id=trigger.segment_id, now=due)  # fmt: skip
            cursor.data, cursor.updated_at = {"last": stamp}, now
            created += 1
    return created


def _activated(session: Session, journey_id: int, now: datetime) -> datetime:
    at = session.scalar(select(Journey.activated_at).where(Journey.id == journey_id))
    return as_utc(at) if at is not None else now


def scan_dates(session: Session, now: datetime) -> int:
    """Entry timers for date-trait triggers firing between the last scan and `now` + DATE_HORIZON."""
    made = 0
    for journey in store.live_journeys(session):
        for i, trigger in enumerate(journey.version.definition.triggers):
            if not isinstance(trigger, DateTraitTrigger):
                continue
            cursor = lock_cursor(session, f"dates:{journey.id}:{i}", now)
            if cursor is None:
                continue
            last = cursor.data.get("scanned")
            after = datetime.fromisoformat(last) if last else _activated(session, journey.id, now)
            made += _scan_trigger(session, journey.id, i, trigger, after, now)
            cursor.data, cursor.updated_at = {"scanned": now.isoformat()}, now
    return made


def trait_values(session: Session, name: str, customer_ids: Sequence[int] | None = None) -> dict[int, Any]:
    """customer id → current value of trait `name` (decrypted when it is personal data)."""
    t = Trait.__table__.c
    query = select(t.customer_id, t.value, t.value_enc).where(t.name == name)
    vault = get_vault()
    out: dict[int, Any] = {}
    parts = [None] if customer_ids is None else list(chunks(sorted(set(customer_ids)), 1000))
    for part in parts:
        q = query if part is None else query.where(t.customer_id.in_(part))
        for cid, value, enc in session.execute(q):
            out[int(cid)] = vault.decrypt_json(enc) if enc is not None else value
    return out


def _scan_trigger(
    session: Session, journey_id: int, index: int, trigger: DateTraitTrigger, after: datetime, now: datetime
) -> int:
    until = now + DATE_HORIZON
    values = trait_values(session, trigger.trait)
    zones = timezones(session, values)
    rows = []
    for cid, value in values.items():
        fire = date_trait_fires_at(trigger, value, zones[cid], after)
        if fire is None or fire > until:
            continue
        day = local_date(fire, zone(zones[cid])).isoformat()
        payload = {"start_key": f"date:{trigger.trait}:{day}", "trigger": index, "trait": trigger.trait}
        rows.append({"key": f"entry:{journey_id}:{index}:{cid}:{day}", "kind": "entry", "run_id": None,
                     "journey_id": journey_id, "customer_id": cid, "due_at": fire, "status": "pending",
                     "payload": payload})  # fmt: skip
    store.schedule_timers(session, rows, now)
    return len(rows)


def still_due(session: Session, timers: Sequence[store.DueTimer]) -> list[store.DueTimer]:
    """Entry timers whose trait still gives the same fire time (a changed birthday or replenish date
    has its own timer by then; the stale one starts nothing)."""
    if not timers:
        return []
    live = {j.id: j for j in store.live_journeys(session)}
    keep = []
    by_trait: dict[str, list[store.DueTimer]] = {}
    for timer in timers:
        trait = (timer.payload or {}).get("trait")
        if timer.journey_id in live and isinstance(trait, str):
            by_trait.setdefault(trait, []).append(timer)
    for trait, group in by_trait.items():
        values = trait_values(session, trait, [t.customer_id for t in group])
        zones = timezones(session, [t.customer_id for t in group])
        for timer in group:
            trigger = live[timer.journey_id].version.definition.triggers[
                int((timer.payload or {})["trigger"])
            ]
            if not isinstance(trigger, DateTraitTrigger) or trigger.trait != trait:
                continue
            if timer.customer_id not in values:
                continue
            due = as_utc(timer.due_at)
            value, tz = values[timer.customer_id], zones[timer.customer_id]
            if date_trait_fires_at(trigger, value, tz, due - timedelta(seconds=1)) == due:
                keep.append(timer)
    return keep
