"""The one engine and session factory, the declarative base, and dialect-aware upserts.

SQLite runs in WAL mode with `synchronous=NORMAL` (a committed transaction survives a killed process);
PostgreSQL uses a regular pool. Writers on SQLite are serialised by `write_lock()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from siyu.core.clock import as_utc
from siyu.core.settings import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (stored naive UTC) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_sqlite_write_lock = threading.RLock()
SQLITE_PRAGMAS: dict[str, int] = {
    "cache_size": -65536,  # KiB (64 MiB per connection)
    "wal_autocheckpoint": 10_000,  # pages; fewer checkpoint fsyncs under load than SQLite's 1,000
}
WAL_AUTOCHECKPOINT = SQLITE_PRAGMAS["wal_autocheckpoint"]
_pragma_overrides: dict[str, dict[str, int]] = {}  # per URL (see `set_sqlite_pragma`)


def set_sqlite_pragma(url: str, name: str, value: int | None) -> None:
    """Set `name` (one of `SQLITE_PRAGMAS`) for this process's connections to `url`; None: back to the
    default. Pooled connections are closed so that every connection uses it (the SQLite writer's
    checkpoints and page cache: `core.checkpoints`, `events.writer`)."""
    if name not in SQLITE_PRAGMAS:
        raise ValueError(f"unknown SQLite pragma {name!r}")
    overrides = _pragma_overrides.setdefault(url, {})
    if value is None:
        overrides.pop(name, None)
    else:
        overrides[name] = int(value)
    if url in _engines:
        _engines[url].dispose()


def _prepare_sqlite_path(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _loads(value: Any) -> Any:
    """SQLite gives JSON numbers back as numbers (the JSON column has NUMERIC affinity)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: settings.database_url)."""
    url = url or get_settings().database_url
    if url in _engines:
        return _engines[url]
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            # A connection's page cache is dropped when another connection has written since its last
            # transaction: reusing the most recently returned connection keeps the writer's cache warm.
            pool_use_lifo=True,
            json_serializer=_dumps,
            json_deserializer=_loads,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            for name, value in {**SQLITE_PRAGMAS, **_pragma_overrides.get(url, {})}.items():
                cur.execute(f"PRAGMA {name}={int(value)}")
            cur.close()
    else:
        size = get_settings().database_pool_size
        engine = create_engine(
            url,
            pool_size=size,
            max_overflow=size,
            pool_pre_ping=True,
            json_serializer=_dumps,
            json_deserializer=_loads,
        )
    _engines[url] = engine
    return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    url = url or get_settings().database_url
    if url not in _factories:
        _factories[url] = sessionmaker(bind=get_engine(url), expire_on_commit=False, autoflush=False)
    return _factories[url]


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error (the edges own this)."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_lock(session: Session) -> Iterator[None]:
    """Serialise writers on SQLite (one writer at a time anyway); a no-op on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        with _sqlite_write_lock:
            yield
    else:
        yield


def begin_immediate(session: Session) -> None:
    """SQLite: begin the session's transaction with BEGIN IMMEDIATE, taking the database's write lock
    now instead of at the first write, so that nothing the transaction reads can change before it
    commits. Call before the transaction runs anything. A no-op on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def writers_paused() -> Iterator[None]:
    """Hold back this process's SQLite writers (those that take `write_lock`) until the block ends; waits
    for the one writing now to finish its transaction. For the WAL checkpointer's restarts."""
    with _sqlite_write_lock:
        yield


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_for(dialect: str, table: Any) -> Any:
    """A dialect-specific INSERT that supports ON CONFLICT (SQLite and PostgreSQL share the syntax)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def greatest(dialect: str, a: Any, b: Any) -> Any:
    return func.max(a, b) if dialect == "sqlite" else func.greatest(a, b)


def least(dialect: str, a: Any, b: Any) -> Any:
    return func.min(a, b) if dialect == "sqlite" else func.least(a, b)


_statements: dict[tuple[str, str], Any] = {}


def cached_statement(session: Session, name: str, build: Callable[[str], Any]) -> Any:
    """Build a statement once per dialect (building upserts costs more than running them)."""
    key = (name, dialect_of(session))
    stmt = _statements.get(key)
    if stmt is None:
        stmt = _statements[key] = build(key[1])
    return stmt


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
