"""`siyu bench dispatch` end to end through the CLI: worker processes, the governor, the webhook channel and
the sink in its own process; every message arrives once, the figures have their documented keys."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from siyu.bench.dispatch import JOURNEY, journey
from siyu.bench.dispatch_sink import Counts
from siyu.journeys.schemas import parse_definition

SIYU = str(Path(sys.executable).parent / "siyu")
KEYS = {"messages_per_s", "timer_lag_p95_s", "duplicates", "workers", "messages", "peak_rss_mb", "outbox",
        "timers", "load_avg_before", "load_avg_after", "database", "customers", "entry_s"}  # fmt: skip


def _bench(*extra: str, customers: int = 300) -> dict[str, Any]:
    args = [SIYU, "bench", "dispatch", "--customers", str(customers), "--json", "--timeout", "240", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = orjson.loads(done.stdout)
    return figures


def _check(figures: dict[str, Any], database: str, workers: int) -> None:
    assert set(figures) >= KEYS
    assert (figures["database"], figures["workers"]) == (database, workers)
    assert figures["messages"] == figures["customers"] == 300 and figures["duplicates"] == 0
    assert figures["outbox"] == {"sent": 300} and figures["messages_per_s"] > 0


def test_the_benchmark_journey_is_valid_with_and_without_its_wait() -> None:
    assert [n.type for n in parse_definition(JOURNEY).nodes] == ["send", "wait", "exit"]
    assert [n.type for n in parse_definition(journey(0)).nodes] == ["send", "exit"]
    assert parse_definition(journey(3)).nodes[1].delay.minutes == 3  # type: ignore[union-attr]


def test_sink_counts_duplicates_by_key() -> None:
    counts = Counts()
    for key in ("a", "b", "a"):
        counts.add(key)
    assert {k: v for k, v in counts.summary().items() if k in ("requests", "distinct", "duplicates")} == {
        "requests": 3, "distinct": 2, "duplicates": 1}  # fmt: skip


@pytest.mark.slow
def test_bench_dispatch_on_sqlite_delivers_each_message_once() -> None:
    figures = _bench("--wait-minutes", "0", "--workers", "2")
    _check(figures, "sqlite", 1)  # SQLite runs one worker whatever is asked
    assert figures["timers"] == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_dispatch_on_postgres_with_two_workers(pg_server: Any) -> None:
    url = pg_server.create_database(f"b_{uuid.uuid4().hex[:10]}")
    figures = _bench("--wait-minutes", "0", "--workers", "2", "--database-url", url)
    _check(figures, "postgresql", 2)
