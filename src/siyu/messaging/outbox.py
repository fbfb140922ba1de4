"""The outbox's rows: enqueue a message once per idempotency key, claim due rows for dispatch (and rows
whose `sending` lease ran out because a worker died), and write outcomes in bulk.

Claims lock rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers never take the same row;
SQLite has one in-process worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from siyu.core.database import chunks, insert_for

from .tables import CLAIMABLE, OutboxMessage

OUTBOX = cast(Table, OutboxMessage.__table__)
WEBHOOK_CALL = "call_webhook"  # pseudo-channel of a journey's webhook node: no governor, no contact history
DEFAULTS: dict[str, Any] = {
    "journey_id": None, "version": None, "run_id": None, "node_id": None, "arm": None, "coupon_pool": None,
    "expires_at": None, "urgent": False, "mass": False, "context": {}, "attempts": 0, "deferrals": 0,
    "status": "pending", "lease_until": None, "template_version": None,
}  # fmt: skip


def enqueue(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert messages (`key`, `customer_id`, `channel`, `template_id`, `purpose`, `created_at`, …); a key
    already in the outbox is left alone, so carrying out the same step twice queues one message."""
    if not rows:
        return
    full = []
    for row in sorted(rows, key=lambda r: str(r["key"])):
        item = {**DEFAULTS, **row}
        item.setdefault("next_attempt_at", item["created_at"])
        item.setdefault("updated_at", item["created_at"])
        full.append(item)
    kind = session.get_bind().dialect.name
    stmt = insert_for(kind, OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["key"])
    for part in chunks(full, 500):
        session.execute(stmt, list(part))


def claim_due(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Pending or deferred rows due by `now`, oldest first, locked for this transaction."""
    o = OutboxMessage
    query = (
        select(o)
        .where(o.status.in_(CLAIMABLE), o.next_attempt_at <= now)
        .order_by(o.next_attempt_at, o.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def claim_stuck(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Rows left `sending` by a worker whose lease ran out (it died between send and record)."""
    o = OutboxMessage
    query = (
        select(o)
        .where(o.status == "sending", o.lease_until <= now)
        .order_by(o.lease_until, o.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


_UPDATE_COLUMNS = (
    "status", "attempts", "deferrals", "next_attempt_at", "lease_until", "reason_code", "reason_zh",
    "reason_en", "provider_id", "track_code", "subject", "body", "html_body", "params", "sent_at",
    "updated_at", "template_version",
)  # fmt: skip


def write(session: Session, changes: Sequence[Mapping[str, Any]], *, only_status: str | None = None) -> None:
    """Bulk update rows by `id` (changes naming the same columns run as one executemany).
    `only_status`: change a row only while it still has this status (a late writer changes nothing)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(c for c in _UPDATE_COLUMNS if c in change)
        groups.setdefault(columns, []).append({"_id": change["id"], **{f"v_{c}": change[c] for c in columns}})
    o = OutboxMessage.__table__.c
    for columns, rows in groups.items():
        stmt = update(OUTBOX).where(o.id == bindparam("_id"))
        if only_status is not None:
            stmt = stmt.where(o.status == only_status)
        stmt = stmt.values({c: bindparam(f"v_{c}") for c in columns})
        for part in chunks(sorted(rows, key=lambda r: int(r["_id"])), 500):
            session.connection().execute(stmt, list(part))
