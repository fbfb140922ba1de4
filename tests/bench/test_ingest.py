"""`siyu bench ingest` end to end through the CLI: real server process, real HTTP, stored events counted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from siyu.bench.ingest import p99_by_tenth, percentile, rate_by_tenth

SIYU = str(Path(sys.executable).parent / "siyu")
KEYS = {
    "events_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "peak_rss_mb",
    "events",
    "customers",
    "database",
    "requests",
    "errors",
    "stored_events",
}


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([5.0], 50) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == 99.0


def _bench(*extra: str, customers: int = 500) -> dict[str, object]:
    args = [SIYU, "bench", "ingest", "--events", "2000", "--customers", str(customers), "--json", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, object] = orjson.loads(done.stdout)
    return figures


def _check(figures: dict[str, object], database: str) -> None:
    assert set(figures) >= KEYS
    assert figures["database"] == database
    assert figures["errors"] == 0
    assert figures["requests"] == 20
    assert figures["stored_events"] == figures["events"] == 2000
    assert figures["stored_customers"] == figures["users_touched"]
    assert isinstance(figures["inprocess_worker"], bool)
    cpu = figures["loadgen_cpu_s"]
    assert isinstance(cpu, float) and 0 <= cpu <= float(str(figures["wall_s"])) * 4


@pytest.mark.slow
def test_bench_ingest_on_sqlite_prints_figures_and_stores_every_event() -> None:
    _check(_bench(), "sqlite")


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_ingest_on_throwaway_postgres() -> None:
    _check(_bench("--postgres", "--workers", "2", customers=200_000), "postgresql")


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_ingest_on_postgres_with_few_hot_customers() -> None:
    _check(_bench("--postgres", "--workers", "2", customers=500), "postgresql")


def test_rate_by_tenth_splits_the_run_by_accepted_events() -> None:
    answered = [(float(i + 1), 100) for i in range(20)]  # 100 events per second for 20 s
    assert rate_by_tenth(answered) == [100.0] * 10
    assert rate_by_tenth([]) == []


def test_p99_by_tenth_follows_the_order_requests_were_answered() -> None:
    answered = [(float(i), 100) for i in range(100)]
    latencies = [10.0] * 90 + [500.0] * 10  # the last tenth is slow
    tenths = p99_by_tenth(answered, latencies)
    assert tenths[:9] == [10.0] * 9 and tenths[9] == 500.0
    shuffled = list(reversed(answered))  # answered out of order: sorted by time first
    assert p99_by_tenth(shuffled, list(reversed(latencies))) == tenths
    assert p99_by_tenth([], []) == []
    assert len(p99_by_tenth([(1.0, 1), (2.0, 1)], [5.0, 7.0])) == 10  # fewer requests than tenths
