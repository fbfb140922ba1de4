"""`column IN (ids)` for the batch paths with one bound value instead of one per id: PostgreSQL
`= ANY(:ids)` (an array), SQLite `IN (SELECT value FROM json_each(:ids))` (a JSON list). Measured on a
1,000-id list: about 1 ms, where SQLAlchemy's expanding IN costs 7–20 ms to render each time.

Use: `text_in(session, "SELECT … WHERE {in}", "customer_id")` with `{"ids": ids_value(session, ids)}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def where_in(session: Session, column: str, name: str) -> str:
    """The SQL test `column IN (:name)` for this dialect (column and name come from code)."""
    if _postgres(session):
        return f"{column} = ANY(:{name})"
    return f"{column} IN (SELECT value FROM json_each(:{name}))"  # noqa: S608 (names from code)


def ids_value(session: Session, ids: Iterable[int]) -> Any:
    values = sorted({int(i) for i in ids})
    return values if _postgres(session) else orjson.dumps(values).decode()


def keys_value(session: Session, keys: Iterable[str]) -> Any:
    values = sorted(set(keys))
    return values if _postgres(session) else orjson.dumps(values).decode()


def text_in(
    session: Session,
    sql: str,
    column: str,
    name: str = "ids",
    *,
    lock: str | None = None,
    **more: tuple[str, str],
) -> TextClause:
    """`text(sql)` with its `{in}` marker replaced by `where_in(column, name)`, and each `{marker}` of
    `more` (marker → (column, parameter)) likewise; `lock` = "update" or "skip" adds `FOR UPDATE
    [SKIP LOCKED]` on PostgreSQL. The SQL is written in code, never taken from input."""
    for marker, (other, param) in {"in": (column, name), **more}.items():
        sql = sql.replace("{" + marker + "}", where_in(session, other, param))
    if lock is not None and _postgres(session):
        sql += " FOR UPDATE SKIP LOCKED" if lock == "skip" else " FOR UPDATE"
    return text(sql)
