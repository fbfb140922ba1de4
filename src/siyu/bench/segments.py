"""`siyu bench segments`: generate the bench brand (bulk load), then time RFM, lifecycle sweeps, the full
rebuild of ten representative segments, previews, and the incremental path over HTTP against a real
`siyu serve`, with the DuckDB group-by as the physical-limit reference. Figures as a dict (see docs).
"""

from __future__ import annotations

import resource
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from siyu.bench import seg_measure
from siyu.bench.ingest import percentile
from siyu.bench.seg_database import Database, database, load_in_child
from siyu.bench.seg_model import BrandSize
from siyu.bench.seg_reference import host, reference
from siyu.bench.server import ServerProcess, TreeSampler
from siyu.core.clock import now as clock_now
from siyu.core.database import dispose_engines, get_engine, session_factory, unit_of_work

Progress = Callable[[str, int, int], None]  # (phase, done, total)
TARGET_S = 5.0
TARGET_MS = 1000.0
TARGET_MB = 2048.0


@dataclass(frozen=True)
class SegmentsOptions:
    customers: int = 1_000_000
    events: int = 10_000_000
    seed: int = 7
    database_url: str | None = None
    postgres: bool = False
    keep: Path | None = None  # keep the generated database here (reused by the next run)
    samples: int = 200  # timed incremental events
    previews: int = 5  # repetitions of each definition's preview
    incremental_timeout_s: float = 10.0
    server_log: Path | None = None


def _counts(url: str) -> dict[str, int]:
    from siyu.commerce.tables import Order
    from siyu.customers.tables import Customer
    from siyu.events.system import system_source_id
    from siyu.events.tables import Event

    with session_factory(url)() as session:
        system = system_source_id(session)
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
        events = session.scalar(select(func.count()).select_from(Event).where(Event.source_id != system)) or 0
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
    dispose_engines()  # the loader may need the SQLite file to itself
    return {"customers": int(customers), "events": int(events), "orders": int(orders)}


def _prepare(db: Database, options: SegmentsOptions, progress: Progress) -> dict[str, Any]:
    from siyu.migrations import upgrade

    progress("migrating", 0, 1)
    upgrade(db.url)
    dispose_engines()
    if _counts(db.url)["customers"]:
        return {"load_s": None, "reused": True}
    size = BrandSize(options.customers, options.events, options.seed)
    loaded = load_in_child(db.url, size, clock_now(), progress)
    return {"load_s": loaded["seconds"]["total"], "reused": False, "load": loaded}


def _incremental(
    url: str, segment_id: int, options: SegmentsOptions, workdir: Path, progress: Progress
) -> dict[str, Any]:
    from siyu.auth.service import create_source
    from siyu.bench import seg_incremental

    with unit_of_work(url) as session:
        _source, key = create_source(session, f"bench-segments-{secrets.token_hex(4)}")
    engine = get_engine(url)
    sample = seg_incremental.candidates(engine, segment_id, options.samples, clock_now())
    with ExitStack() as stack:
        server = ServerProcess(url, 1, workdir / "server.log")
        stack.callback(server.stop)
        server.start()
        sampler = TreeSampler(server.pid).start()
        stack.callback(sampler.stop)
        progress("incremental (HTTP → segment)", 0, len(sample))
        result = seg_incremental.measure(
            engine,
            f"http://127.0.0.1:{server.port}",
            key,
            segment_id,
            sample,
            timeout_s=options.incremental_timeout_s,
            tick=lambda n: progress("incremental (HTTP → segment)", n, len(sample)),
        )
        sampler.stop()
        if options.server_log:
            shutil.copyfile(server.log_path, options.server_log)
    lat = result.latencies_ms
    return {
        "incremental_p50_ms": round(percentile(lat, 50), 1) if lat else None,
        "incremental_p95_ms": round(percentile(lat, 95), 1) if lat else None,
        "incremental_p99_ms": round(percentile(lat, 99), 1) if lat else None,
        "incremental": {
            "samples": len(lat),
            "timeouts": result.timeouts,
            "skipped": result.skipped,
            "warmup_s": result.warmup_s,
            "note": result.note,
        },
        "server_peak_rss_mb": round(sampler.peak_rss_mb, 1),
    }


class _Phases:
    """Wall seconds of each phase, and the progress bar's description."""

    def __init__(self, show: Progress) -> None:
        self.show, self.seconds, self._at, self._name = show, dict[str, float](), time.perf_counter(), ""

    def __call__(self, name: str, done: int = 0, total: int = 1) -> None:
        if name != self._name:
            self.close()
            self._name = name
        self.show(name, done, total)

    def close(self) -> None:
        now = time.perf_counter()
        if self._name:
            self.seconds[self._name] = round(self.seconds.get(self._name, 0.0) + now - self._at, 2)
        self._at, self._name = now, ""


def run(options: SegmentsOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the figures (docs/benchmarks.md explains each key)."""
    phase = _Phases(progress or (lambda _phase, _done, _total: None))
    figures: dict[str, Any] = {"host_before": host()}
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="siyu-bench-segments-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        stack.callback(dispose_engines)
        phase("starting the database")
        db = stack.enter_context(database(options.database_url, options.postgres, options.keep, workdir))
        figures["database"] = "sqlite" if db.url.startswith("sqlite") else "postgresql"
        figures["kept"] = db.kept
        figures.update(_prepare(db, options, phase))
        figures.update(_counts(db.url))
        now = clock_now()
        phase("RFM full recompute")
        figures.update(seg_measure.rfm(db.url, now))
        phase("lifecycle: first sweep")
        figures["lifecycle_first_sweep_s"] = seg_measure.lifecycle_first(db.url, now)
        figures["lifecycle_stages"] = seg_measure.lifecycle_stages(db.url)
        built, specs = seg_measure.segments(db.url, now, lambda n: phase("segments: full rebuild", n, 10))
        figures["segments"] = built
        phase("DuckDB reference")
        with session_factory(db.url)() as session:
            figures["duckdb"] = reference(session, now)
        figures["duckdb_reference_s"] = figures["duckdb"]["duckdb_reference_s"]
        phase("previews")
        took = seg_measure.previews(db.url, now, [s.root for s in specs], options.previews)
        figures["preview_p50_ms"] = round(percentile(took, 50), 1)
        figures["preview_p95_ms"] = round(percentile(took, 95), 1)
        figures["preview_max_ms"] = round(max(took), 1)
        if options.samples:
            phase("worker: catching up with the loaded backlog")
            figures["worker_catch_up"] = seg_measure.catch_up(db.url)
            phase("incremental: starting siyu serve")
            figures.update(_incremental(db.url, built[0]["id"], options, workdir, phase))
        phase("lifecycle: daily sweep")
        figures.update(seg_measure.lifecycle_daily(db.url, now))
        phase("stopping")
    phase.close()
    figures["phases_s"] = phase.seconds
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["bench_peak_rss_mb"] = round(own, 1)
    figures["peak_rss_mb"] = round(max(own, figures.get("server_peak_rss_mb", 0.0)), 1)
    ratio = figures["rfm_s"] / figures["duckdb_reference_s"] if figures["duckdb_reference_s"] else None
    figures["rfm_vs_duckdb"] = None if ratio is None else round(ratio, 1)
    figures["targets"] = _targets(figures)
    figures["host"] = host()
    return figures


def _targets(f: dict[str, Any]) -> dict[str, bool | None]:
    p95 = f.get("incremental_p95_ms")
    return {
        "each_rebuild_within_5s": all(s["full_rebuild_s"] <= TARGET_S for s in f["segments"]),
        "rfm_within_5s": f["rfm_s"] <= TARGET_S,
        "incremental_p95_within_1s": None if p95 is None else p95 <= TARGET_MS,
        "preview_p95_within_1s": f["preview_p95_ms"] <= TARGET_MS,
        "peak_rss_within_2gb": f["peak_rss_mb"] <= TARGET_MB,
    }
