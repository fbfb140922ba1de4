"""Events siyu itself writes on a customer's timeline (segment entered/exited, lifecycle stage changes,
tag changes): stored in the event log under the system source, never counted in stats or rollups.

Each carries an idempotency key, used as its `messageId`, so recording the same fact twice stores it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.tables import Source
from siyu.core import fastsql

SYSTEM_SOURCE = "siyu:system"  # created by migration 0002; no write key can authenticate as it
COLUMNS = ("customer_id", "source_id", "message_id", "type", "name", "timestamp", "received_at",
           "properties", "context")  # fmt: skip

_source_ids: dict[str, int] = {}
_ON_CONFLICT = " ON CONFLICT (source_id, message_id) DO NOTHING"
_CONTEXT = fastsql.db_json({"library": {"name": "siyu"}})
_CHUNK = 1000
_INSERT_PG = (
    f"INSERT INTO events (id, {', '.join(COLUMNS)})"  # noqa: S608 (names from code)
    " SELECT u.i, u.c, %s, u.k, 'track', u.n, u.t, %s, u.p::jsonb, %s::jsonb FROM unnest(%b::bigint[],"
    " %b::bigint[], %b::text[], %b::text[], %b::timestamptz[], %b::text[]) AS u(i, c, k, n, t, p)"
    + _ON_CONFLICT
)
_IDS_PG = "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, %s)"


@dataclass(frozen=True)
class SystemEvent:
    customer_id: int
    name: str  # e.g. "Segment Entered", "Lifecycle Stage Changed"
    key: str  # idempotency key, unique among system events, e.g. "segment:12:entered:345:3"
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


def system_source_id(session: Session) -> int:
    url = str(session.get_bind().engine.url)
    cached = _source_ids.get(url)
    if cached is None:
        cached = session.scalar(select(Source.id).where(Source.name == SYSTEM_SOURCE))
        if cached is None:
            raise RuntimeError(f"source {SYSTEM_SOURCE!r} is missing: run `siyu db upgrade`")
        _source_ids[url] = cached
    return cached


def record(session: Session, events: Sequence[SystemEvent], *, received_at: datetime) -> None:
    """Insert `events` into the event log (type `track`); keys already stored are skipped."""
    if not events:
        return
    kind = fastsql.dialect(session)
    source_id = system_source_id(session)
    received = fastsql.db_time(kind, received_at)
    rows = [
        (
            e.customer_id,
            source_id,
            e.key,
            "track",
            e.name,
            fastsql.db_time(kind, e.at),
            received,
            fastsql.db_json(e.properties),
            _CONTEXT,
        )
        for e in events
    ]
    if kind == "sqlite":
        sql = fastsql.insert_sql(kind, "events", COLUMNS, json_columns=("properties", "context"))
        fastsql.run_many(session, sql + _ON_CONFLICT, rows)
        return
    # PostgreSQL: one statement per chunk whose rows travel as arrays (unnest, in psycopg's binary format):
    # psycopg parses the short query once, where a multi-row VALUES list cost it ~76 µs per row to parse.
    # The ids are drawn first, in one quick statement: drawn row by row during the insert, two workers'
    # inserts interleave their ids one by one, and the journeys' event reader then tracks (and re-reads)
    # every id the other transaction holds as a gap until it commits.
    connection = session.connection()
    for start in range(0, len(rows), _CHUNK):
        part = rows[start : start + _CHUNK]
        ids = [int(i) for (i,) in connection.exec_driver_sql(_IDS_PG, (len(part),))]
        columns = [list(c) for c in zip(*part, strict=True)]
        params = (
            source_id,
            received,
            _CONTEXT,
            ids,
            columns[0],
            columns[2],
            columns[4],
            columns[5],
            columns[7],
        )
        connection.exec_driver_sql(_INSERT_PG, params)
