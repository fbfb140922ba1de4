"""Shared helpers for the tag tests: customers created in bulk, and a query-counting context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.customers.tables import Customer

AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def make_customers(session: Session, n: int) -> list[int]:
    """`n` new customers, inserted in one statement; returns their ids in order."""
    kind = fastsql.dialect(session)
    start = (session.scalar(select(func.max(Customer.id))) or 0) + 1
    ids = list(range(start, start + n))
    rows = [(i, fastsql.db_time(kind, AT)) for i in ids]
    fastsql.run_many(session, fastsql.insert_sql(kind, "customers", ("id", "created_at")), rows)
    if kind == "postgresql":
        session.execute(select(func.setval(func.pg_get_serial_sequence("customers", "id"), ids[-1])))
    session.flush()
    return ids


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs (executemany counts once)."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)
