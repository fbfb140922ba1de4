"""`siyu bench write-path` through the CLI: the write path alone, on SQLite and a throwaway PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SIYU = str(Path(sys.executable).parent / "siyu")


def _bench(*extra: str) -> dict[str, object]:
    args = [SIYU, "bench", "write-path", "--events", "3000", "--customers", "400", "--json", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, object] = orjson.loads(done.stdout)
    return figures


def _check(figures: dict[str, object], database: str) -> list[float]:
    assert figures["database"] == database
    assert figures["errors"] == 0
    assert figures["written"] == figures["events"] == 3000
    assert figures["group_messages"] == 1000
    per_event = float(str(figures["writer_cpu_ms_per_event"]))
    assert per_event > 0
    tenths = figures["cpu_ms_per_event_by_tenth"]
    assert isinstance(tenths, list) and len(tenths) == 10
    return [float(t) for t in tenths]


@pytest.mark.slow
def test_write_path_on_sqlite_reports_the_writer_ceiling() -> None:
    figures = _bench()
    tenths = _check(figures, "sqlite")
    per_event = float(str(figures["writer_cpu_ms_per_event"]))
    assert tenths[-1] == pytest.approx(per_event, rel=0.01)  # the last tenth covers the whole run
    assert figures["ceiling_events_per_s_one_writer"] == pytest.approx(1000 / per_event, rel=0.01)


@pytest.mark.slow
@pytest.mark.postgres
def test_write_path_on_postgres_counts_the_servers_cpu() -> None:
    figures = _bench("--postgres")
    _check(figures, "postgresql")
    assert float(str(figures["postgres_cpu_ms_per_event"])) > 0
    both = float(str(figures["writer_cpu_ms_per_event"])) + float(str(figures["postgres_cpu_ms_per_event"]))
    assert figures["ceiling_events_per_s_on_2_cores"] == pytest.approx(2000 / both, rel=0.01)


def test_write_path_refuses_two_databases() -> None:
    args = [SIYU, "bench", "write-path", "--events", "10", "--postgres", "--database-url", "sqlite:///x.db"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--postgres" in done.stderr


@pytest.mark.slow
def test_wal_pages_names_the_btrees_each_event_dirties() -> None:
    figures = _bench("--wal-pages")
    _check(figures, "sqlite")
    frames = figures["wal_frames_per_event_last_30pct"]
    assert isinstance(frames, dict)
    assert frames["total"] > 0
    parts = {name: share for name, share in frames.items() if name != "total"}
    assert {"events", "customer_stats", "ix_events_customer_time"} <= set(parts)
    assert sum(parts.values()) == pytest.approx(frames["total"], abs=0.01 * len(parts))


def test_wal_pages_refuses_postgres() -> None:
    args = [SIYU, "bench", "write-path", "--events", "10", "--postgres", "--wal-pages"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--wal-pages" in done.stderr
