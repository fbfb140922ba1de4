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
    # PostgreSQL: one multi-row statement per chunk (executemany would be one round trip per row)
    row_marks = (
        "(" + ", ".join("%s::jsonb" if c in ("properties", "context") else "%s" for c in COLUMNS) + ")"
    )
    for start in range(0, len(rows), _CHUNK):
        part = rows[start : start + _CHUNK]
        values = ", ".join([row_marks] * len(part))
        sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES {values}{_ON_CONFLICT}"  # noqa: S608
        session.connection().exec_driver_sql(sql, tuple(v for row in part for v in row))
