"""The evaluation queue (`segment_queue`): one row per customer whose segments and rule tags must be
re-evaluated at `due_at`. Enqueueing keeps the earlier time; the worker claims due rows by deleting them.

Kept free of heavy imports: ingestion and merges call `enqueue` inside their own transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.core import fastsql

REASONS = ("event", "recheck", "merge", "manual")


def _upsert_sql(kind: str) -> str:
    # The WHERE leaves a row that is due earlier untouched: a SET to the same values would still rewrite
    # the `due_at` index entry (on SQLite a WAL page for most events of a customer already queued).
    return (
        fastsql.insert_sql(kind, "segment_queue", ("customer_id", "due_at", "reason"))
        + " ON CONFLICT (customer_id) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason"
        " WHERE excluded.due_at < segment_queue.due_at"
    )


def enqueue(session: Session, due: Mapping[int, datetime], reason: str) -> None:
    """Upsert `customer id → due time` in one executemany (ids sorted: a stable lock order on PostgreSQL)."""
    if not due:
        return
    kind = fastsql.dialect(session)
    when = fastsql.time_formatter(kind)  # most customers of a batch share its receipt time
    rows = [(cid, when(at), reason) for cid, at in sorted(due.items())]
    fastsql.run_many(session, _upsert_sql(kind), rows)


def enqueue_now(session: Session, customer_ids: Iterable[int], now: datetime, reason: str = "event") -> None:
    enqueue(session, dict.fromkeys(customer_ids, now), reason)


_CLAIM = (
    "DELETE FROM segment_queue WHERE customer_id IN (SELECT customer_id FROM segment_queue"
    " WHERE due_at <= :now ORDER BY due_at LIMIT :limit) RETURNING customer_id, reason"
)
_CLAIM_PG = _CLAIM.replace("LIMIT :limit)", "LIMIT :limit FOR UPDATE SKIP LOCKED)")


def claim(session: Session, now: datetime, limit: int) -> dict[int, str]:
    """Take up to `limit` due rows (earliest first) by deleting them: `customer id → reason`.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same row; if the
    transaction rolls back, the rows are back. SQLite has a single in-process worker."""
    kind = fastsql.dialect(session)
    sql = _CLAIM_PG if kind == "postgresql" else _CLAIM
    rows = session.execute(text(sql), {"now": fastsql.db_time(kind, now), "limit": limit})
    return {int(cid): str(reason) for cid, reason in rows}


def pending(session: Session, now: datetime) -> int:
    """How many rows are due (for progress and tests)."""
    kind = fastsql.dialect(session)
    sql = text("SELECT count(*) FROM segment_queue WHERE due_at <= :now")
    return int(session.execute(sql, {"now": fastsql.db_time(kind, now)}).scalar_one())
