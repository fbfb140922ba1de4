"""`siyu bench dispatch`: every customer of a segment enters a journey (send through the webhook channel,
wait a minute, exit); `siyu worker` processes run the entries, the governor, the sends and the timers;
a sink in its own process counts what arrives by Idempotency-Key.

The workers are `siyu worker` loops restricted to the journey and outbox jobs (`--worker` below).
Figures: messages/s end to end (from the trigger to the last message at the sink), timer lag (fired −
due, or fired − created for a timer created already overdue: a broadcast's waits count from the trigger,
so customers entered late get overdue timers; `timer_due_lag_p95_s` is fired − due for every timer),
duplicates seen by the sink (must be 0), workers' peak RSS and CPU, load average.
Everything it starts is stopped and removed on the way out.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from siyu.bench.dispatch_sink import serve
from siyu.bench.ingest import percentile
from siyu.bench.server import TreeSampler
from siyu.devtools.pg_server import free_port

Progress = Callable[[str, int], None]
JOURNEY: dict[str, Any] = {
    "name": "压测群发 Dispatch benchmark", "triggers": [{"type": "manual"}], "start": "send",
    "nodes": [
        {"type": "send", "id": "send", "channel": "webhook", "template_id": "bench", "purpose": "marketing",
         "expiry": {"type": "defer"}, "next": "watch"},
        {"type": "wait", "id": "watch", "delay": {"type": "duration", "minutes": 1}, "next": "done"},
        {"type": "exit", "id": "done", "reason": "sent"},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class DispatchOptions:
    customers: int = 200_000
    workers: int = 1
    database_url: str | None = None
    postgres: bool = False
    timeout_s: float = 3600.0
    wait_minutes: int = 1  # the journey's wait after the send (its timers give the lag figures); 0: none


def journey(wait_minutes: int) -> dict[str, Any]:
    if wait_minutes > 0:
        nodes = [dict(n) for n in JOURNEY["nodes"]]
        nodes[1]["delay"] = {"type": "duration", "minutes": wait_minutes}
        return {**JOURNEY, "nodes": nodes}
    send = {**JOURNEY["nodes"][0], "next": "done"}
    return {**JOURNEY, "nodes": [send, JOURNEY["nodes"][2]]}


@contextmanager
def _database(options: DispatchOptions, workdir: Path) -> Iterator[str]:
    if options.database_url:
        yield options.database_url
    elif options.postgres:
        from siyu.devtools.pg_server import ThrowawayPostgres

        server = ThrowawayPostgres().start()
        try:
            yield server.create_database("bench_dispatch")  # the postmaster pid is in data/postmaster.pid
        finally:
            server.stop()
    else:
        yield f"sqlite:///{workdir / 'bench.db'}"


def populate(url: str, customers: int, now: datetime, wait_minutes: int = 1) -> tuple[int, int]:
    """Customers, a static segment of all of them, the template and the active journey: (journey, segment)."""
    from siyu.core import fastsql
    from siyu.core.database import session_factory, write_lock
    from siyu.journeys import service
    from siyu.messaging import template_store
    from siyu.segments.tables import Segment

    with session_factory(url)() as s, write_lock(s):
        kind, at = fastsql.dialect(s), fastsql.db_time(fastsql.dialect(s), now)
        if kind == "sqlite":
            sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
                   "INSERT INTO customers (created_at) SELECT :t FROM c")  # fmt: skip
        else:
            sql = "INSERT INTO customers (created_at) SELECT :t FROM generate_series(1, :n)"
        s.execute(text(sql), {"n": customers, "t": at})
        segment = Segment(name="压测全体", kind="static", version=1, created_at=now, updated_at=now,
                          created_by="bench", member_count=customers, transitions=0)  # fmt: skip
        s.add(segment)
        s.flush()
        s.execute(text("INSERT INTO segment_members (segment_id, customer_id, entered_at) "
                       "SELECT :sid, id, :t FROM customers"), {"sid": segment.id, "t": at})  # fmt: skip
        template_store.save(s, "bench", {"channel": "webhook", "body": "您好 {{ customer.id }},本周新品上架"},
                            actor="bench", now=now)  # fmt: skip
        created = service.create(s, journey(wait_minutes), actor="bench", now=now)
        service.transition(s, created.id, "activate", now=now)
        s.commit()
        if kind == "postgresql":
            # a brand's customers table has planner statistics; one loaded a second ago has none, and
            # without them PostgreSQL reads `id = ANY(:ids) AND merged_into_id IS NULL` through the
            # merged_into_id index, every row of the table for each batch of 500 ids
            s.execute(text("ANALYZE customers, segment_members"))
            s.commit()
        return created.id, segment.id


def _sink_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stats")
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def _worker(url: str, sink_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_WEBHOOK_URL": f"http://127.0.0.1:{sink_port}/hook",
           "SIYU_WEBHOOK_SECRET": "bench-secret", "SIYU_GOVERNOR_QUIET_START": "00:00",
           "SIYU_GOVERNOR_QUIET_END": "00:00"}  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "siyu.bench.dispatch", "--worker"], env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def worker_main() -> None:
    """A `siyu worker` running only the journey and outbox jobs (`journeys.*`, `messaging.*`): the
    segment, lifecycle and RFM jobs would otherwise sweep the freshly loaded customers mid-benchmark.
    Only those two capabilities' job modules are imported (the others pull in scikit-learn and pandas)."""
    import importlib

    from siyu.worker.jobs import JOBS
    from siyu.worker.runner import Worker

    for module in ("siyu.journeys.jobs", "siyu.messaging.jobs"):
        importlib.import_module(module)
    jobs = [job for name, job in JOBS.items() if name.startswith(("journeys.", "messaging."))]
    worker = Worker(jobs=jobs)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run_forever()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _unsettled(url: str) -> int:
    """Timers not fired yet, and messages not recorded yet (the sink may have them already)."""
    from siyu.core.database import session_factory
    from siyu.journeys.tables import JourneyTimer
    from siyu.messaging.tables import OutboxMessage

    with session_factory(url)() as s:
        timers = s.scalar(select(func.count()).where(JourneyTimer.status == "pending")) or 0
        waiting = ("pending", "deferred", "sending")
        messages = s.scalar(select(func.count()).where(OutboxMessage.status.in_(waiting))) or 0
        return int(timers) + int(messages)


def _postgres_sampler(url: str) -> dict[str, TreeSampler]:
    """CPU of the PostgreSQL server on the URL's port (postmaster and backends), when it runs here."""
    if not url.startswith("postgresql"):
        return {}
    import psutil

    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        port = url.rsplit(":", 1)[-1].split("/")[0]
        if process.info.get("name") == "postgres" and f"-p {port}" in cmdline:
            return {"postgres": TreeSampler(process.pid).start()}
    return {}


def _database_figures(url: str) -> dict[str, Any]:
    from siyu.core.clock import as_utc
    from siyu.core.database import session_factory
    from siyu.journeys.tables import BulkEntry, JourneyTimer
    from siyu.messaging.tables import OutboxMessage

    with session_factory(url)() as s:
        t, o = JourneyTimer.__table__.c, OutboxMessage.__table__.c
        fired = select(t.due_at, t.created_at, t.fired_at).where(t.kind == "run", t.fired_at.is_not(None))
        rows = [(as_utc(d), as_utc(c or d), as_utc(f)) for d, c, f in s.execute(fired)]
        lags = [(f - max(d, c)).total_seconds() for d, c, f in rows]  # due, or created if already overdue
        late = [(f - d).total_seconds() for d, _c, f in rows]
        outbox = {str(k): int(n) for k, n in s.execute(select(o.status, func.count()).group_by(o.status))}
        bulk = s.execute(select(func.min(BulkEntry.created_at), func.max(BulkEntry.done_at))).first()
    entry_s = None if bulk is None or bulk[1] is None else (as_utc(bulk[1]) - as_utc(bulk[0])).total_seconds()
    return {"outbox": outbox, "timers": len(lags), "entry_s": entry_s,
            "timer_lag_p50_s": round(percentile(lags, 50), 3),
            "timer_lag_p95_s": round(percentile(lags, 95), 3),
            "timer_due_lag_p95_s": round(percentile(late, 95), 3),
            "timer_lag_max_s": round(max(lags, default=0.0), 3)}  # fmt: skip


def run(options: DispatchOptions, progress: Progress) -> dict[str, Any]:
    from siyu.core import clock
    from siyu.core.database import dispose_engines, session_factory, write_lock
    from siyu.journeys import service
    from siyu.migrations import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="siyu-bench-dispatch-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        url = stack.enter_context(_database(options, workdir))
        stack.callback(dispose_engines)
        workers = 1 if url.startswith("sqlite") else options.workers
        progress("migrating and loading customers", 0)
        upgrade(url)
        journey_id, segment_id = populate(url, options.customers, clock.now(), options.wait_minutes)
        port, ctx = free_port(), multiprocessing.get_context("spawn")
        ready = ctx.Event()
        sink = ctx.Process(target=serve, args=(port, ready), daemon=True)
        sink.start()
        stack.callback(sink.terminate)
        if not ready.wait(30):
            raise RuntimeError("the sink did not start")
        processes = [_worker(url, port, workdir / f"worker{i}.log") for i in range(workers)]
        for process in processes:
            stack.callback(_stop, process)
        samplers = [TreeSampler(p.pid).start() for p in processes]
        others = {"sink": TreeSampler(sink.pid or 0).start(), **_postgres_sampler(url)}
        time.sleep(2.0)  # let the workers import and migrate-check before the clock starts
        load_before = os.getloadavg()
        started = time.time()
        with session_factory(url)() as s, write_lock(s):
            service.trigger(s, journey_id, now=clock.now(), actor="bench", segment_id=segment_id, key="bench")
            s.commit()
        stats: dict[str, Any] = {}
        while time.time() - started < options.timeout_s:
            stats = _sink_stats(port)
            progress("sending", int(stats["distinct"]))
            if stats["distinct"] >= options.customers:
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(
                    f"a worker exited: {(workdir / 'worker0.log').read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.5)
        progress("waiting for the last timers", int(stats["distinct"]))
        while _unsettled(url) and time.time() - started < options.timeout_s:
            time.sleep(1.0)
        stats = _sink_stats(port)
        for sampler in [*samplers, *others.values()]:
            sampler.stop()
        figures = _database_figures(url)
        last = stats["last_at"] or started
        return {
            "customers": options.customers, "workers": workers,
            "database": url.split(":", 1)[0].split("+")[0], "messages": stats["distinct"],
            "duplicates": stats["duplicates"], "sink_requests": stats["requests"],
            "messages_per_s": round(stats["distinct"] / (last - started), 1) if last > started else 0.0,
            "send_phase_per_s": round(stats["distinct"] / (last - stats["first_at"]), 1)
            if stats["first_at"] and last > stats["first_at"] else 0.0,
            "elapsed_s": round(last - started, 2), **figures,
            "peak_rss_mb": round(max(s.peak_rss_mb for s in samplers), 1),
            "worker_cpu_s": round(sum(s.cpu_s for s in samplers), 1),
            **{f"{name}_cpu_s": round(sampler.cpu_s, 1) for name, sampler in others.items()},
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()], "cpu_count": os.cpu_count(),
        }  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main()
