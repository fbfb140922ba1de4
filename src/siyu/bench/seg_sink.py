"""Bulk writers for the bench brand: SQLite `executemany` in large transactions with journaling off for the
load only, and PostgreSQL `COPY`. Secondary indexes and constraints of the loaded tables are dropped
first and recreated afterwards exactly as the migration made them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import make_url

Row = tuple[Any, ...]


class Sink(Protocol):
    kind: str

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None: ...

    def commit(self) -> None: ...

    def prepare(self, tables: Sequence[str]) -> None: ...

    def finish(self, tables: Sequence[str], sequences: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class SqliteSink:
    kind = "sqlite"

    def __init__(self, url: str) -> None:
        path = make_url(url).database
        if not path:
            raise ValueError(f"not a SQLite file URL: {url}")
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")  # a generated database: rebuilt, not recovered
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-131072")
        self.conn.execute("BEGIN")
        self.indexes: list[str] = []

    def prepare(self, tables: Sequence[str]) -> None:
        marks = ",".join("?" * len(tables))
        where = f"type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})"
        query = f"SELECT name, sql FROM sqlite_master WHERE {where}"  # noqa: S608 (marks only)
        for name, sql in self.conn.execute(query, list(tables)).fetchall():
            self.indexes.append(sql)
            self.conn.execute(f'DROP INDEX "{name}"')

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (names from code)
            self.conn.executemany(sql, rows)

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def finish(self, tables: Sequence[str], sequences: Sequence[str]) -> None:
        for sql in self.indexes:
            self.conn.execute(sql)
        self.conn.execute("COMMIT")
        for table in tables:
            self.conn.execute(f"ANALYZE {table}")
        self.conn.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        self.conn.close()


def libpq_url(url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://` URL as libpq understands it."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresSink:
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(libpq_url(url))
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute("SET synchronous_commit = off")
        self.conn.execute("SET maintenance_work_mem = '512MB'")
        self.constraints: list[tuple[str, str, str]] = []
        self.indexes: list[str] = []

    def prepare(self, tables: Sequence[str]) -> None:
        names = list(tables)
        found = self.conn.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('f', 'u') ORDER BY c.contype DESC",
            (names,),
        ).fetchall()
        self.constraints = [(str(t), str(n), str(d)) for t, n, d in found]
        indexes = self.conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (names,),
        ).fetchall()
        for table, name, _definition in self.constraints:
            self.conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, definition in indexes:
            self.indexes.append(str(definition))
            self.conn.execute(f'DROP INDEX "{name}"')
        self.conn.commit()

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.conn.commit()

    def finish(self, tables: Sequence[str], sequences: Sequence[str]) -> None:
        for sql in self.indexes:
            self.conn.execute(sql)  # type: ignore[arg-type]
        for table, name, definition in reversed(self.constraints):
            self.conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')  # type: ignore[arg-type]
        for table in sequences:
            serial = f"pg_get_serial_sequence('{table}', 'id')"
            sql = f"SELECT setval({serial}, coalesce(max(id), 0) + 1, false) FROM {table}"  # noqa: S608
            self.conn.execute(sql)  # type: ignore[arg-type]
        self.conn.commit()
        self.conn.autocommit = True
        for table in tables:
            self.conn.execute(f"VACUUM ANALYZE {table}")  # type: ignore[arg-type]

    def close(self) -> None:
        self.conn.close()


def open_sink(url: str) -> Sink:
    return SqliteSink(url) if url.startswith("sqlite") else PostgresSink(url)
