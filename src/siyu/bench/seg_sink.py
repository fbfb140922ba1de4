"""Bulk writers for the bench brand: SQLite `executemany` in large transactions with journaling off for the
load only, and PostgreSQL `COPY`. Secondary indexes and constraints of the loaded tables are dropped
first and recreated afterwards exactly as the migration made them.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import make_url

Row = tuple[Any, ...]


class Sink(Protocol):
    kind: str
    timings: dict[str, float]  # seconds of the steps of `finish`

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
        self.timings: dict[str, float] = {}

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
        started = time.perf_counter()
        for sql in self.indexes:
            self.conn.execute(sql)
        self.conn.execute("COMMIT")
        self.timings["indexes"] = time.perf_counter() - started
        # no ANALYZE: siyu does not run it on SQLite, so the planner sees what it sees in production
        self.conn.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        self.conn.close()


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _column_text(values: Sequence[Any]) -> list[str]:
    """One column as COPY text fields: NULL is \\N, booleans t/f, text escaped only when it must be."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        out = ["\\N" if v is None else ("t" if v else "f") for v in values]
    elif isinstance(sample, str):
        out = ["\\N" if v is None else v for v in values]
        if _SPECIAL.search("\x00".join([v for v in values if v is not None])):
            out = ["\\N" if v is None else v.translate(_ESCAPES) for v in values]
    else:
        out = ["\\N" if v is None else str(v) for v in values]
    return out


def copy_text(rows: Sequence[Row]) -> bytes:
    """Rows in PostgreSQL's COPY text format, converted a column at a time."""
    columns = [_column_text(column) for column in zip(*rows, strict=True)]
    lines = ["\t".join(fields) for fields in zip(*columns, strict=True)]
    lines.append("")
    return "\n".join(lines).encode()


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
        self.timings: dict[str, float] = {}
        self.freeze = ""

    def prepare(self, tables: Sequence[str]) -> None:
        names = list(tables)
        found = self.conn.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE (c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('f', 'u'))"
            " OR (c.confrelid::regclass::text = ANY(%s) AND c.contype = 'f') ORDER BY c.contype DESC",
            (names, names),
        ).fetchall()
        self.constraints = [(str(t), str(n), str(d)) for t, n, d in found]
        indexes = self.conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (names,),
        ).fetchall()
        for table, name, _definition in self.constraints:
            self.conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')  # type: ignore[arg-type]
        for name, definition in indexes:
            self.indexes.append(str(definition))
            self.conn.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
        # rows copied into a table truncated in the same transaction are frozen on the way in, so the
        # whole load is one transaction (foreign keys into these tables are dropped above until `finish`)
        empty = all(
            self.conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {t})").fetchone() == (True,)  # type: ignore[arg-type]  # noqa: S608
            for t in names
        )
        if empty:
            self.conn.execute(f"TRUNCATE {', '.join(names)}")  # type: ignore[arg-type]
            self.freeze = " WITH (FREEZE)"

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        data = copy_text(rows)
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN{self.freeze}"
        with self.conn.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[arg-type]
            copy.write(data)

    def commit(self) -> None:
        if not self.freeze:
            self.conn.commit()

    def finish(self, tables: Sequence[str], sequences: Sequence[str]) -> None:
        started = time.perf_counter()
        for sql in self.indexes:
            self.conn.execute(sql)  # type: ignore[arg-type]
        self.timings["indexes"] = time.perf_counter() - started
        for table, name, definition in reversed(self.constraints):
            self.conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')  # type: ignore[arg-type]
        for table in sequences:
            serial = f"pg_get_serial_sequence('{table}', 'id')"
            sql = f"SELECT setval({serial}, coalesce(max(id), 0) + 1, false) FROM {table}"  # noqa: S608
            self.conn.execute(sql)  # type: ignore[arg-type]
        self.conn.commit()
        self.timings["constraints"] = time.perf_counter() - started - self.timings["indexes"]
        mark = time.perf_counter()
        self.conn.autocommit = True
        for table in tables:
            self.conn.execute(f"VACUUM ANALYZE {table}")  # type: ignore[arg-type]
        self.timings["vacuum_analyze"] = time.perf_counter() - mark

    def close(self) -> None:
        self.conn.close()


def open_sink(url: str) -> Sink:
    return SqliteSink(url) if url.startswith("sqlite") else PostgresSink(url)
