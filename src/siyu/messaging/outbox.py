"""The outbox's rows: enqueue a message once per idempotency key, claim due rows for dispatch (and rows
whose `sending` lease ran out because a worker died), and write outcomes in bulk.

Claims lock rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers never take the same row;
SQLite has one in-process worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.journeys.tables import Journey

from .sqlids import arrays, ids_value, insert_unnest, text_in, unnest_from, update_unnest
from .tables import CLAIMABLE, OUTBOX_STATUSES, OutboxMessage

OUTBOX = cast(Table, OutboxMessage.__table__)
JOURNEYS = cast(Table, Journey.__table__)
WEBHOOK_CALL = "call_webhook"  # pseudo-channel of a journey's webhook node: no governor, no contact history
DEFAULTS: dict[str, Any] = {
    "journey_id": None, "version": None, "run_id": None, "node_id": None, "arm": None, "coupon_pool": None,
    "expires_at": None, "urgent": False, "mass": False, "context": {}, "attempts": 0, "deferrals": 0,
    "status": "pending", "lease_until": None, "template_version": None,
}  # fmt: skip


_INSERT = ("key", "customer_id", "journey_id", "version", "run_id", "node_id", "arm", "channel",
           "template_id", "purpose", "urgent", "mass", "coupon_pool", "context", "created_at", "expires_at",
           "status", "attempts", "deferrals", "next_attempt_at", "updated_at")  # fmt: skip
_INSERT_TIMES = frozenset({"created_at", "expires_at", "next_attempt_at", "updated_at"})
_PG_TYPES = {
    "key": "text", "customer_id": "bigint", "journey_id": "int", "version": "int", "run_id": "bigint",
    "node_id": "text", "arm": "text", "channel": "text", "template_id": "text", "purpose": "text",
    "urgent": "bool", "mass": "bool", "coupon_pool": "text", "context": "jsonb", "created_at": "timestamptz",
    "expires_at": "timestamptz", "status": "text", "attempts": "int", "deferrals": "int",
    "next_attempt_at": "timestamptz", "updated_at": "timestamptz", "lease_until": "timestamptz",
    "reason_code": "text", "reason_zh": "text", "reason_en": "text", "provider_id": "text",
    "track_code": "text", "subject": "text", "body": "text", "html_body": "text", "params": "jsonb",
    "sent_at": "timestamptz", "template_version": "int",
}  # fmt: skip
_INSERT_PG = [(c, _PG_TYPES[c]) for c in _INSERT]


def enqueue(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert messages (`key`, `customer_id`, `channel`, `template_id`, `purpose`, `created_at`, …); a key
    already in the outbox is left alone, so carrying out the same step twice queues one message."""
    if not rows:
        return
    kind = fastsql.dialect(session)
    values = []
    for row in sorted(rows, key=lambda r: str(r["key"])):
        item = {**DEFAULTS, "next_attempt_at": row["created_at"], "updated_at": row["created_at"], **row}
        values.append(tuple(
            fastsql.db_time(kind, item[c]) if c in _INSERT_TIMES
            else fastsql.db_json(item[c]) if c == "context" else item[c]
            for c in _INSERT
        ))  # fmt: skip
    if kind == "postgresql":
        insert_unnest(session, "outbox", _INSERT_PG, values, " ON CONFLICT (key) DO NOTHING")
        return
    sql = (
        fastsql.insert_sql(kind, "outbox", _INSERT, json_columns=("context",))
        + " ON CONFLICT (key) DO NOTHING"
    )
    fastsql.run_many(session, sql, values)


@dataclass(slots=True)
class OutboxRow:
    """A claimed outbox row, as plain data (ORM objects cost more than the rest of the dispatch)."""

    id: int
    key: str
    customer_id: int
    journey_id: int | None
    version: int | None
    node_id: str | None
    arm: str | None
    channel: str
    template_id: str
    purpose: str
    urgent: bool
    mass: bool
    coupon_pool: str | None
    context: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None
    attempts: int
    deferrals: int
    body: str | None
    subject: str | None
    html_body: str | None
    params: dict[str, Any] | None


_ROW = tuple(OUTBOX.c[f.name] for f in fields(OutboxRow))


def _claim(session: Session, where: Any, order: Any, limit: int) -> list[OutboxRow]:
    query = select(*_ROW).where(*where).order_by(*order).limit(limit).with_for_update(skip_locked=True)
    return [OutboxRow(*row) for row in session.execute(query)]


# The statuses as SQL literals, not bound values: the planner uses a partial index (migration 0007) only
# when the query's condition proves the index's, and a bound value proves nothing to a generic plan.
_CLAIMABLE = text(f"outbox.status IN ({', '.join(repr(s) for s in CLAIMABLE)})")
_SENDING = text("outbox.status = 'sending'")


def claim_due(session: Session, now: datetime, limit: int) -> list[OutboxRow]:
    """Pending or deferred rows due by `now`, oldest first, locked for this transaction. Rows of a paused
    journey are held (sent once it is active again) unless they have expired: those are claimed so the
    governor drops them, with the reason."""
    o, j = OUTBOX.c, JOURNEYS.c
    paused = select(j.id).where(j.status == "paused").scalar_subquery()
    held = or_(o.journey_id.is_(None), o.journey_id.not_in(paused), o.expires_at < now)
    return _claim(session, (_CLAIMABLE, o.next_attempt_at <= now, held), (o.next_attempt_at, o.id), limit)


def claim_stuck(session: Session, now: datetime, limit: int) -> list[OutboxRow]:
    """Rows left `sending` by a worker whose lease ran out (it died between send and record)."""
    o = OUTBOX.c
    return _claim(session, (_SENDING, o.lease_until <= now), (o.lease_until, o.id), limit)


_UPDATE_COLUMNS = (
    "status", "attempts", "deferrals", "next_attempt_at", "lease_until", "reason_code", "reason_zh",
    "reason_en", "provider_id", "track_code", "subject", "body", "html_body", "params", "sent_at",
    "updated_at", "template_version",
)  # fmt: skip


_TIMES = frozenset({"next_attempt_at", "lease_until", "sent_at", "updated_at"})


def write(session: Session, changes: Sequence[Mapping[str, Any]], *, only_status: str | None = None) -> None:
    """Bulk update rows by `id`: changes naming the same columns run as one statement (PostgreSQL: the
    rows as arrays) or one driver-level executemany (SQLite), values converted here once.
    `only_status`: change a row only while it still has this status."""
    kind = fastsql.dialect(session)
    guard = f"status = '{only_status}'" if only_status in OUTBOX_STATUSES else ""
    if kind == "postgresql":  # one statement per set of columns, the rows as arrays
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for change in sorted(changes, key=lambda c: int(c["id"])):
            columns = tuple(c for c in _UPDATE_COLUMNS if c in change)
            by_columns.setdefault(columns, []).append(
                (change["id"], *(_pg_json(change[c]) if c == "params" else change[c] for c in columns))
            )
        for columns, rows in by_columns.items():
            typed = [(c, _PG_TYPES[c]) for c in columns]
            update_unnest(
                session, "outbox", ("id", "bigint"), typed, rows, f"outbox.{guard}" if guard else ""
            )
        return
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for change in sorted(changes, key=lambda c: int(c["id"])):
        columns = tuple(c for c in _UPDATE_COLUMNS if c in change)
        values = tuple(_value(kind, c, change[c]) for c in columns)
        groups.setdefault(columns, []).append((*values, change["id"]))
    for columns, rows in groups.items():
        sets = ", ".join(f"{c} = ?" for c in columns)
        where = f" AND {guard}" if guard else ""
        fastsql.run_many(session, f"UPDATE outbox SET {sets} WHERE id = ?{where}", rows)  # noqa: S608


def settle(session: Session, changes: Sequence[tuple[int, Mapping[str, Any]]]) -> set[int]:
    """Record send results: each (attempt, change) is applied only while its row is still `sending` with
    that attempt (a later attempt, after the lease ran out, owns the row otherwise). Returns the ids
    changed. PostgreSQL: one guarded UPDATE … RETURNING per set of columns; SQLite (one writer): the rows
    are read, then written."""
    if not changes:
        return set()
    if fastsql.dialect(session) == "postgresql":
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for attempt, change in sorted(changes, key=lambda c: int(c[1]["id"])):
            columns = tuple(c for c in _UPDATE_COLUMNS if c in change)
            by_columns.setdefault(columns, []).append(
                (
                    change["id"],
                    attempt,
                    *(_pg_json(change[c]) if c == "params" else change[c] for c in columns),
                )
            )
        done: set[int] = set()
        for columns, rows in by_columns.items():
            typed = [("attempt", "int"), *((c, _PG_TYPES[c]) for c in columns)]
            sets = ", ".join(f"{c} = u.{c}::jsonb" if c == "params" else f"{c} = u.{c}" for c in columns)
            sql = (
                f"UPDATE outbox SET {sets} FROM {unnest_from([('id', 'bigint'), *typed])}"  # noqa: S608
                " WHERE outbox.id = u.id AND outbox.status = 'sending' AND outbox.attempts = u.attempt"
                " RETURNING outbox.id"
            )
            result = session.connection().exec_driver_sql(sql, tuple(arrays(rows, len(typed) + 1)))
            done.update(int(i) for (i,) in result)
        return done
    query = "SELECT id, status, attempts FROM outbox WHERE {in} ORDER BY id"
    ids = ids_value(session, (c["id"] for _, c in changes))
    current = {
        int(i): (str(s), int(n)) for i, s, n in session.execute(text_in(session, query, "id"), {"ids": ids})
    }
    wanted = [c for attempt, c in changes if current.get(int(c["id"])) == ("sending", attempt)]
    write(session, wanted)
    return {int(c["id"]) for c in wanted}


def _pg_json(value: Any) -> str | None:
    return None if value is None else fastsql.db_json(value)


def _value(kind: str, column: str, value: Any) -> Any:
    if column in _TIMES:
        return fastsql.db_time(kind, value)
    if column == "params":
        return None if value is None else fastsql.db_json(value)
    return value
