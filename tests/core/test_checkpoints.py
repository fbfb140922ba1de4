"""WAL checkpoints from a thread beside the SQLite writer: the writer's connections only append."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from siyu.core.checkpoints import WalCheckpointer
from siyu.core.database import WAL_AUTOCHECKPOINT, dispose_engines, session_factory


def _autocheckpoint(url: str) -> int:
    with session_factory(url)() as s:
        return int(s.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _write(url: str, rows: int) -> None:
    with session_factory(url)() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)"))
        s.execute(text("INSERT INTO t (body) VALUES (:b)"), [{"b": "x" * 3000} for _ in range(rows)])
        s.commit()


def _wal_frames(path: Path) -> int:
    size = path.with_name(path.name + "-wal").stat().st_size
    return max(size - 32, 0) // (24 + 4096)


def test_the_thread_checkpoints_while_the_writer_only_appends(tmp_path: Path) -> None:
    path = tmp_path / "ck.db"
    url = f"sqlite:///{path}"
    try:
        assert _autocheckpoint(url) == WAL_AUTOCHECKPOINT
        checkpoints = WalCheckpointer(url, interval=0.05, writer_limit=50_000).start()
        try:
            assert _autocheckpoint(url) == 50_000  # new and pooled connections alike
            _write(url, 2000)  # ~2,000 pages: under the writer's limit, so no automatic checkpoint
            deadline = time.monotonic() + 10
            while checkpoints.stats.copied < 2000 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert checkpoints.stats.copied >= 2000
            # a write after a complete checkpoint starts the WAL again from its beginning
            before = _wal_frames(path)
            assert before >= 2000
            _write(url, 10)
            assert _wal_frames(path) == before  # reused, not grown
        finally:
            checkpoints.stop()
        assert checkpoints.stats.errors == 0
        stats = checkpoints.stats
        assert stats.runs >= 2 and stats.cpu_s > 0
        assert stats.copied == stats.wal_frames  # the last run, at stop, copied what was left
        assert _autocheckpoint(url) == WAL_AUTOCHECKPOINT  # back to the default once stopped
        # the rows are in the database file itself: a reader without the WAL sees them
        copy = tmp_path / "copy.db"
        copy.write_bytes(path.read_bytes())
        with sqlite3.connect(copy) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (2010,)
    finally:
        dispose_engines()


def test_only_sqlite_has_a_wal_to_checkpoint() -> None:
    with pytest.raises(ValueError, match="SQLite"):
        WalCheckpointer("postgresql+psycopg://localhost/x")


def test_a_long_wal_is_started_again_while_the_writer_keeps_writing(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    url = f"sqlite:///{path}"
    try:
        checkpoints = WalCheckpointer(url, interval=0.02, restart_at=300, writer_limit=50_000).start()
        try:
            deadline = time.monotonic() + 20
            while checkpoints.stats.restarts == 0 and time.monotonic() < deadline:
                _write(url, 100)  # the writer goes on; each restart waits for its transaction
        finally:
            checkpoints.stop()
        assert checkpoints.stats.restarts >= 1 and checkpoints.stats.errors == 0
        with session_factory(url)() as s:
            rows = s.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert rows >= 100 and rows % 100 == 0  # every transaction whole
        assert _wal_frames(path) < 50_000  # bounded by the restarts, not by the writer's own limit
    finally:
        dispose_engines()


def test_a_reader_of_old_frames_defers_the_restart_without_holding_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "reader.db"
    url = f"sqlite:///{path}"
    try:
        _write(url, 10)
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (10,)  # holds its snapshot
        checkpoints = WalCheckpointer(url, interval=0.02, restart_at=300, writer_limit=50_000).start()
        try:
            slowest = 0.0
            deadline = time.monotonic() + 20
            while checkpoints.stats.restarts_deferred == 0 and time.monotonic() < deadline:
                started = time.monotonic()
                _write(url, 100)
                slowest = max(slowest, time.monotonic() - started)
            assert checkpoints.stats.restarts_deferred >= 1
            # the restart gave up after a few milliseconds: the writer never waited for the reader
            # (SQLite's own busy timeout here is 30 s)
            assert slowest < 5
            reader.execute("COMMIT")  # the reader is done: the next restart goes through
            deadline = time.monotonic() + 20
            while checkpoints.stats.restarts == 0 and time.monotonic() < deadline:
                _write(url, 100)
            assert checkpoints.stats.restarts >= 1
        finally:
            checkpoints.stop()
            reader.close()
    finally:
        dispose_engines()
