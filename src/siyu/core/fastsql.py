"""The ingestion hot path's writes: plain DBAPI `executemany` with values converted once, in Python.

SQLAlchemy's per-row bind processing costs more than SQLite's insert itself at 10k rows/s, so the
few statements ingestion runs per batch are written here by hand, for SQLite and PostgreSQL alike.
Datetimes go to SQLite as the same text SQLAlchemy writes (UTC, microseconds) so both read them back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def db_time(kind: str, value: datetime | None) -> Any:
    if value is None:
        return None
    if kind == "sqlite":
        if value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        # "YYYY-MM-DD HH:MM:SS.ffffff" without the "+00:00" an aware value would add
        return value.isoformat(" ", "microseconds")[:26]
    return value


def time_formatter(kind: str) -> Callable[[datetime | None], Any]:
    """`db_time` for one statement's rows, formatting each distinct instant once (a batch repeats the
    same times: its receipt time, an event time used for stats, traits and history)."""
    if kind != "sqlite":
        return lambda value: value
    cache: dict[datetime, str] = {}

    def formatted(value: datetime | None) -> Any:
        if value is None:
            return None
        text = cache.get(value)
        if text is None:
            text = cache[value] = db_time(kind, value)
        return text

    return formatted


def db_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def in_list(kind: str, sql_type: str = "text") -> str:
    """`IN` over one list parameter (see `list_param`): one cached statement whatever the list's length,
    where SQLAlchemy's expanding `in_()` compiles again for every length. The array is cast to the
    column's type on PostgreSQL, or a bigint column compared with a numeric[] would not use its index."""
    return "IN (SELECT value FROM json_each(?))" if kind == "sqlite" else f"= ANY(%s::{sql_type}[])"


def list_param(kind: str, values: Sequence[Any]) -> Any:
    return orjson.dumps(list(values)).decode() if kind == "sqlite" else list(values)


def mark(kind: str) -> str:
    return "?" if kind == "sqlite" else "%s"


def insert_sql(kind: str, table: str, columns: Sequence[str], json_columns: Sequence[str] = ()) -> str:
    mark = "?" if kind == "sqlite" else "%s"
    marks = [f"{mark}::jsonb" if kind != "sqlite" and c in json_columns else mark for c in columns]
    # table and column names come from code, never from input
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(marks)})"  # noqa: S608


def run_many(session: Session, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        session.connection().exec_driver_sql(sql, rows)  # type: ignore[arg-type]


def fetch(session: Session, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of a query as the driver gives them (tuples), from the session's connection and transaction.

    For the hot path's lookups of hundreds of rows per batch: iterating SQLAlchemy's result builds a
    `Row` per row through several Python calls. Driver errors are raised as SQLAlchemy's, as if the
    statement had gone through SQLAlchemy (retries catch `OperationalError`/`IntegrityError`)."""
    fairy: Any = session.connection().connection
    raw = fairy.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except Exception as exc:
        base = _driver_error(raw)
        if base is not None and isinstance(exc, base):
            raise DBAPIError.instance(sql, params, exc, base) from exc
        raise
    finally:
        cursor.close()


def _driver_error(raw: Any) -> type[Exception] | None:
    module = type(raw).__module__.split(".")[0]
    if module == "sqlite3":
        import sqlite3

        return sqlite3.Error
    if module == "psycopg":
        import psycopg

        return psycopg.Error
    return None


def insert_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    json_columns: Sequence[str] = (),
) -> None:
    """Append rows to a table: `executemany` on SQLite; `COPY … FROM STDIN` on PostgreSQL, which costs
    the client a third of what pipelined `executemany` costs per row (JSON columns go as JSON text)."""
    if not rows:
        return
    kind = dialect(session)
    if kind == "sqlite":
        run_many(session, insert_sql(kind, table, columns, json_columns), rows)
        return
    import psycopg

    raw: Any = session.connection().connection.dbapi_connection
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # names come from code, never from input
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:  # the same exception classes as a statement run through SQLAlchemy
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def upsert_add_sql(kind: str, table: str, keys: Sequence[str], added: Sequence[str], extra: str = "") -> str:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET col = table.col + excluded.col for each added column."""
    columns = [*keys, *added]
    sets = [f"{c} = {table}.{c} + excluded.{c}" for c in added]
    if extra:
        sets.append(extra)
    return (
        f"{insert_sql(kind, table, columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
    )


def insert_returning_ids(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    json_columns: Sequence[str] = (),
) -> list[int]:
    """Insert `rows` and return their new ids, in row order, in O(1) statements.

    SQLite: rows inserted in one transaction by the single writer get consecutive rowids ending at
    `last_insert_rowid()`. PostgreSQL: ids are drawn from the table's sequence first, then inserted.
    """
    if not rows:
        return []
    kind = dialect(session)
    conn = session.connection()
    if kind == "sqlite":
        run_many(session, insert_sql(kind, table, columns, json_columns), rows)
        last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
        return list(range(last - len(rows) + 1, last + 1))
    ids = [
        int(r[0])
        for r in conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (table, len(rows)),
        )
    ]
    with_ids = [(i, *r) for i, r in zip(ids, rows, strict=True)]
    insert_rows(session, table, ["id", *columns], with_ids, json_columns)
    return ids
