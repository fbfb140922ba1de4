"""`siyu bench ingest`: a real server, a separate load generator over HTTP, and the figures it measured.

Everything it starts (server process group, load generator, throwaway PostgreSQL, temporary files) is
stopped and removed on the way out, whether the run succeeded, failed or was interrupted.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from siyu.bench import loadgen
from siyu.bench.server import HOST, ServerProcess, TreeSampler
from siyu.core.settings import get_settings

Progress = Callable[[str, int], None]  # (phase, accepted events so far)


@dataclass(frozen=True)
class IngestOptions:
    events: int
    customers: int = 200_000
    batch: int = 100
    concurrency: int = 4
    workers: int = 1
    database_url: str | None = None
    postgres: bool = False
    seed: int = 7
    server_log: Path | None = None  # keep a copy of the server's output here


def rate_by_tenth(answered: list[tuple[float, int]]) -> list[float]:
    """Events/s in each tenth of the run (by accepted events), to show whether ingestion slows down
    as the database grows."""
    total = sum(n for _, n in answered)
    if total == 0:
        return []
    rates: list[float] = []
    done, since, mark = 0, 0.0, 0
    for at, n in sorted(answered):
        done += n
        while len(rates) < 10 and done >= total * (len(rates) + 1) / 10:
            rates.append(round((done - mark) / (at - since), 1) if at > since else 0.0)
            since, mark = at, done
    return rates


def p99_by_tenth(answered: list[tuple[float, int]], latencies_ms: list[float]) -> list[float]:
    """p99 latency of the requests answered in each tenth of the run (by count), to tell a tail spread
    over the run from one that grows with the database or comes in bursts."""
    ordered = [lat for _, lat in sorted(zip((at for at, _ in answered), latencies_ms, strict=True))]
    if not ordered:
        return []
    size = len(ordered)
    return [
        round(percentile(ordered[size * i // 10 : max(size * (i + 1) // 10, size * i // 10 + 1)], 99), 1)
        for i in range(10)
    ]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextmanager
def database_for(database_url: str | None, postgres: bool, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """(database URL, PostgreSQL postmaster pid if we started one): `database_url` as given, a throwaway
    PostgreSQL, or a new SQLite file in `workdir`."""
    if database_url:
        yield database_url, None
    elif postgres:
        from siyu.devtools.pg_server import ThrowawayPostgres

        server = ThrowawayPostgres()
        try:
            server.start()
            url = server.create_database("siyu_bench")
            pid_file = server.data / "postmaster.pid"
            yield url, int(pid_file.read_text().split()[0])
        finally:
            server.stop()
    else:
        yield f"sqlite:///{workdir / 'bench.db'}", None


def _stop_process(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _create_source(url: str) -> tuple[int, str]:
    from siyu.auth.service import create_source
    from siyu.core.database import dispose_engines, unit_of_work

    try:
        with unit_of_work(url) as session:
            source, key = create_source(session, f"bench-{secrets.token_hex(4)}")
            return source.id, key
    finally:
        dispose_engines()


def _stored(url: str, source_id: int) -> tuple[int, int]:
    """(events, distinct customers) stored for the benchmark's source."""
    from siyu.core.database import dispose_engines, session_factory
    from siyu.events.tables import Event

    try:
        with session_factory(url)() as session:
            row = session.execute(
                select(func.count(), func.count(func.distinct(Event.customer_id))).where(
                    Event.source_id == source_id
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        dispose_engines()


def _wait(what: str, ready: Callable[[], bool], alive: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive():
            raise RuntimeError(f"the load generator exited while {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s while {what}")
        time.sleep(0.1)


def run(options: IngestOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run the benchmark and return its figures (see docs/benchmarks.md for each key)."""
    report = progress or (lambda _phase, _done: None)
    ctx = multiprocessing.get_context("spawn")
    plan = loadgen.LoadPlan(
        options.events,
        options.customers,
        options.batch,
        options.concurrency,
        options.seed,
        run_id=f"bench-{secrets.token_hex(6)}",
    )
    ready, accepted = ctx.Event(), ctx.Value("q", 0)
    targets: Any = ctx.Queue()
    results: Any = ctx.Queue()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="siyu-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        generator = ctx.Process(
            target=loadgen.main, args=(plan, ready, targets, accepted, results), name="siyu-bench-load"
        )
        generator.start()
        stack.callback(_stop_process, generator)
        report("starting database and server", 0)
        url, postmaster = stack.enter_context(database_for(options.database_url, options.postgres, workdir))
        server = ServerProcess(url, options.workers, workdir / "server.log")
        stack.callback(server.stop)
        server.start()
        source_id, key = _create_source(url)
        report("generating requests", 0)
        _wait("generating requests", ready.is_set, generator.is_alive, timeout=1800)

        sampler = TreeSampler(server.pid).start()
        db_sampler = TreeSampler(postmaster).start() if postmaster else None
        cpu_before = sampler.cpu_s
        db_cpu_before = db_sampler.cpu_s if db_sampler else 0.0
        load_before = os.getloadavg()[0]
        targets.put(loadgen.Target(HOST, server.port, key))
        result = _collect(results, generator, lambda: report("loading", int(accepted.value)))
        sampler.stop()
        if db_sampler:
            db_sampler.stop()
        load_after = os.getloadavg()[0]
        report("verifying", result.accepted)
        server.stop()
        log_tail = server.log_tail() if result.errors else ""
        if options.server_log:
            shutil.copyfile(server.log_path, options.server_log)
        stored_events, stored_customers = _stored(url, source_id)

    lat = result.latencies_ms
    figures: dict[str, Any] = {
        "events": options.events,
        "customers": options.customers,
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "batch": options.batch,
        "concurrency": options.concurrency,
        "workers": options.workers,
        # `siyu serve` also runs the background worker (segments, lifecycle, RFM, journeys) unless
        # SIYU_INPROCESS_WORKER=false: it re-evaluates every customer the events touched
        "inprocess_worker": get_settings().inprocess_worker,
        "requests": result.requests,
        "errors": result.errors,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected_messages": result.rejected_messages,
        "wall_s": round(result.wall_s, 3),
        "events_per_s": round(result.accepted / result.wall_s, 1) if result.wall_s else 0.0,
        "p50_ms": round(percentile(lat, 50), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2) if lat else 0.0,
        "events_per_s_by_tenth": rate_by_tenth(result.answered),
        "p99_ms_by_tenth": p99_by_tenth(result.answered, lat),
        "requests_over_250_ms": sum(1 for ms in lat if ms > 250),
        "peak_rss_mb": round(sampler.peak_rss_mb, 1),
        "server_cpu_s": round(sampler.cpu_s - cpu_before, 1),
        "loadgen_cpu_s": round(result.cpu_s, 1),
        "stored_events": stored_events,
        "users_touched": result.users_touched,
        "stored_customers": stored_customers,
    }
    figures["host"] = {
        "cpus": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(load_after, 2),
        "siyu": _code_version(),
    }
    if db_sampler:
        figures["postgres_cpu_s"] = round(db_sampler.cpu_s - db_cpu_before, 1)
    if result.error_samples:
        figures["error_samples"] = result.error_samples
    if log_tail:
        figures["server_log_tail"] = log_tail.splitlines()
    return figures


def _code_version() -> str:
    """The package version, plus `git describe --dirty` when running from a checkout."""
    import siyu

    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=Path(siyu.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return siyu.__version__
    return f"{siyu.__version__}+{described}"


def _collect(results: Any, generator: BaseProcess, tick: Callable[[], None]) -> loadgen.LoadResult:
    import queue

    while True:
        tick()
        try:
            item = results.get(timeout=0.25)
        except queue.Empty:
            if not generator.is_alive():
                raise RuntimeError("the load generator exited without a result") from None
            continue
        if isinstance(item, str):
            raise RuntimeError(f"the load generator failed:\n{item}")
        assert isinstance(item, loadgen.LoadResult)
        return item
