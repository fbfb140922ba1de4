"""Set-based reads and writes of `customer_tags` and `tag_history` for one chunk of customers at a time,
on SQLite (executemany, in-process) and PostgreSQL (one `unnest` statement per chunk).

Lookups probe the primary key (customer_id, tag_id) once per customer: the tag condition is written
`tag_id + 0` so that no planner, however stale its statistics inside a big transaction, scans every
member of a large tag and filters it against the IN list (quadratic at a million customers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.tags.tables import CustomerTag

MEMBER_COLUMNS = ("customer_id", "tag_id", "added_at", "added_by")
MEMBER_TYPES = ("bigint", "integer", "timestamptz", "text")
HISTORY_COLUMNS = ("customer_id", "tag_id", "action", "at", "actor", "reason")
HISTORY_TYPES = ("bigint", "integer", "text", "timestamptz", "text", "text")
HistoryRow = tuple[int, int, str, datetime, str, str | None]


def members_among(session: Session, tag_id: int, ids: Sequence[int]) -> set[int]:
    """Which of `ids` carry the tag now."""
    query = select(CustomerTag.customer_id).where(
        CustomerTag.customer_id.in_(ids), CustomerTag.tag_id + 0 == tag_id
    )
    return set(session.scalars(query))


def take_away(session: Session, tag_ids: Sequence[int], ids: Sequence[int]) -> list[tuple[int, int]]:
    """Delete these tags from these customers; returns the (customer_id, tag_id) pairs that existed."""
    if not tag_ids or not ids:
        return []
    stmt = (
        delete(CustomerTag)
        .where(CustomerTag.customer_id.in_(ids), (CustomerTag.tag_id + 0).in_(tag_ids))
        .returning(CustomerTag.customer_id, CustomerTag.tag_id)
    )
    return sorted((int(c), int(t)) for c, t in session.execute(stmt))


def _unnest_insert(table: str, columns: Sequence[str], types: Sequence[str], suffix: str = "") -> str:
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    # table and column names come from code, never from input
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {suffix}"  # noqa: S608


def insert_members(session: Session, tag_id: int, ids: Sequence[int], at: datetime, actor: str) -> None:
    """Give the tag to `ids` (customers known not to carry it; a concurrent duplicate is ignored)."""
    if not ids:
        return
    kind = fastsql.dialect(session)
    conflict = "ON CONFLICT (customer_id, tag_id) DO NOTHING"
    if kind == "postgresql":
        n = len(ids)
        columns: list[Any] = [list(ids), [tag_id] * n, [at] * n, [actor] * n]
        session.connection().exec_driver_sql(_unnest_insert("customer_tags", MEMBER_COLUMNS, MEMBER_TYPES,
                                                            conflict), tuple(columns))  # fmt: skip
        return
    sql = f"{fastsql.insert_sql(kind, 'customer_tags', MEMBER_COLUMNS)} {conflict}"
    when = fastsql.db_time(kind, at)
    fastsql.run_many(session, sql, [(c, tag_id, when, actor) for c in ids])


def insert_history(session: Session, rows: Sequence[HistoryRow]) -> list[int]:
    """Insert history rows; returns their ids in row order (a chunk never repeats a row's
    (customer, tag, action), which is how PostgreSQL's RETURNING rows are matched back)."""
    if not rows:
        return []
    kind = fastsql.dialect(session)
    if kind != "postgresql":
        converted = [(c, t, a, fastsql.db_time(kind, at), who, why) for c, t, a, at, who, why in rows]
        return fastsql.insert_returning_ids(session, "tag_history", HISTORY_COLUMNS, converted)
    columns = tuple(list(col) for col in zip(*rows, strict=True))
    sql = _unnest_insert(
        "tag_history", HISTORY_COLUMNS, HISTORY_TYPES, "RETURNING id, customer_id, tag_id, action"
    )
    found = {(c, t, a): int(i) for i, c, t, a in session.connection().exec_driver_sql(sql, columns)}
    return [found[(r[0], r[1], r[2])] for r in rows]
