"""`siyu bench write-path`: what the ingestion write path costs on its own, in one process, no HTTP.

`siyu bench ingest` measures the whole system; this one answers the question behind its ceiling: how
much CPU does writing one event cost, in siyu and in the database, as the database grows? It prepares the
same generated traffic as `bench ingest` (validation, identity keys, encryption: not measured, as the
server processes do it beside the writer) and writes it through `events.service.write_group` in groups
of `group` batches, as the SQLite writer does, measuring only the writes.

On SQLite everything the writer does, SQLite included, runs in the measured process: one writer at
`writer_cpu_ms_per_event` can never exceed `1000 / writer_cpu_ms_per_event` events/s. On PostgreSQL the
server's CPU is measured too (its process tree), since it shares the same cores.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siyu.bench.ingest import database_for, percentile
from siyu.bench.server import TreeSampler

Progress = Callable[[str, int], None]  # (phase, events written so far)


@dataclass(frozen=True)
class WritePathOptions:
    events: int
    customers: int = 200_000
    batch: int = 100
    group: int = 10  # batches per group commit: 1,000 messages, the writer's largest group
    database_url: str | None = None
    postgres: bool = False
    seed: int = 7
    wal_pages: bool = False  # SQLite: count WAL frames by B-tree over the last 30% (see bench.walpages)


def run(options: WritePathOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run the measurement in a fresh process (its own settings and engine) and return its figures."""
    report = progress or (lambda _phase, _done: None)
    ctx = multiprocessing.get_context("spawn")
    done: Any = ctx.Value("q", 0)
    results: Any = ctx.Queue()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="siyu-bench-writes-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        report("starting database", 0)
        url, postmaster = stack.enter_context(database_for(options.database_url, options.postgres, workdir))
        child = ctx.Process(target=_child, args=(url, options, postmaster, done, results))
        child.start()
        try:
            while True:
                report("writing", int(done.value))
                try:
                    item = results.get(timeout=0.25)
                    break
                except Exception:  # queue.Empty
                    if not child.is_alive():
                        raise RuntimeError("the measuring process exited without a result") from None
        finally:  # done (the child is exiting) or interrupted (it is stopped)
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join(timeout=10)
            if child.is_alive():
                child.kill()
    if isinstance(item, str):
        raise RuntimeError(f"the measurement failed:\n{item}")
    figures: dict[str, Any] = item
    return figures


def _child(url: str, options: WritePathOptions, postmaster: int | None, done: Any, results: Any) -> None:
    try:
        os.environ["SIYU_DATABASE_URL"] = url
        os.environ["SIYU_INPROCESS_WORKER"] = "false"
        results.put(_measure(url, options, postmaster, done))
    except BaseException:
        import traceback

        results.put(traceback.format_exc())


def _database_cpu(sampler: TreeSampler | None) -> float:
    """CPU seconds PostgreSQL's processes have used so far (0 without a sampler: SQLite)."""
    if sampler is None:
        return 0.0
    sampler.sample()
    return sampler.cpu_s


def _measure(url: str, options: WritePathOptions, postmaster: int | None, done: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    import orjson

    from siyu.auth.service import create_source
    from siyu.bench import workload
    from siyu.core.database import unit_of_work
    from siyu.core.pii import get_vault
    from siyu.core.runtime import tune_gc
    from siyu.core.settings import get_settings
    from siyu.events.ingest import Prepared, prepare
    from siyu.events.service import write_group
    from siyu.migrations import upgrade

    upgrade(url)
    counter = None
    if options.wal_pages:
        if not url.startswith("sqlite"):
            raise ValueError("--wal-pages counts SQLite WAL frames; it needs a SQLite database")
        from siyu.bench.walpages import WalPageCounter

        groups = -(-options.events // (options.batch * options.group))
        counter = WalPageCounter(url, count_all=groups < 20)  # a short run is counted whole
    checkpoints = None
    if counter is None:  # page cache and checkpoints as the writer of `siyu serve --workers N` has them
        from siyu.events.writer import tune_writer_database

        checkpoints = tune_writer_database()
    with unit_of_work() as session:
        source, _key = create_source(session, f"bench-{secrets.token_hex(4)}")
        source_id = source.id
    settings, vault = get_settings(), get_vault()
    traffic = workload.generate(options.events, options.customers, options.batch, options.seed, "writes")
    tune_gc()
    database = TreeSampler(postmaster) if postmaster is not None else None
    tenths: list[float] = []
    group_ms: list[float] = []  # wall time of each group commit
    cpu = db_cpu = 0.0
    written = errors = checkpoint_runs = 0
    started = time.monotonic()
    bodies = traffic.bodies
    for first in range(0, len(bodies), options.group):
        # prepared and pickled as a server process hands them over; unpickling is part of the writer
        frames = [
            pickle.dumps(
                prepare(
                    settings,
                    vault,
                    source_id=source_id,
                    raws=orjson.loads(b"{" + body)["batch"],
                    received_at=datetime.now(UTC),
                ).to_wire(),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            for body in bodies[first : first + options.group]
        ]
        db_before, before, wall = _database_cpu(database), time.thread_time(), time.perf_counter()
        batches = [Prepared.from_wire(pickle.loads(f)) for f in frames]  # noqa: S301 (made just above)
        outcome = write_group(batches)
        cpu += time.thread_time() - before
        group_ms.append((time.perf_counter() - wall) * 1000)
        db_cpu += _database_cpu(database) - db_before
        for result in outcome:
            if isinstance(result, BaseException):
                errors += 1
            else:
                written += result.accepted
        done.value = written
        if counter is not None:
            counter.after_group(written, options.events)
        while len(tenths) < 10 and written >= options.events * (len(tenths) + 1) / 10:
            tenths.append(round((cpu + db_cpu) * 1000 / written, 4))
    if checkpoints is not None:
        from siyu.events.writer import untune_writer_database

        untune_writer_database(checkpoints)
        db_cpu = checkpoints.stats.cpu_s
        checkpoint_runs = checkpoints.stats.runs  # the checkpoint thread: SQLite's work beside the writer
    per_event = cpu * 1000 / max(written, 1)
    figures: dict[str, Any] = {
        "events": options.events,
        "customers": options.customers,
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "group_messages": options.batch * options.group,
        "written": written,
        "errors": errors,
        "wall_s": round(time.monotonic() - started, 1),
        "writer_cpu_s": round(cpu, 2),
        "writer_cpu_ms_per_event": round(per_event, 4),
        # cumulative: CPU per event of the writing thread (+ PostgreSQL's) up to the end of each tenth
        "cpu_ms_per_event_by_tenth": tenths,
        "group_ms_p50": round(percentile(group_ms, 50), 1),
        "group_ms_p99": round(percentile(group_ms, 99), 1),
        "group_ms_max": round(max(group_ms, default=0.0), 1),
    }
    if counter is not None:
        figures["wal_frames_per_event_last_30pct"] = counter.finish(written)
    if postmaster is not None:
        figures["postgres_cpu_s"] = round(db_cpu, 2)
        figures["postgres_cpu_ms_per_event"] = round(db_cpu * 1000 / max(written, 1), 4)
        both = per_event + db_cpu * 1000 / max(written, 1)
        figures["ceiling_events_per_s_on_2_cores"] = round(2000 / both) if both else 0
    else:
        if checkpoints is not None:
            figures["checkpoint_cpu_s"] = round(db_cpu, 2)
            figures["checkpoint_cpu_ms_per_event"] = round(db_cpu * 1000 / max(written, 1), 4)
            figures["checkpoint_runs"] = checkpoint_runs
        figures["ceiling_events_per_s_one_writer"] = round(1000 / per_event) if per_event else 0
    return figures
