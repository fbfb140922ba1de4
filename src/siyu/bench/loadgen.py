"""The load generator, run in its own process so it never competes with the server's event loop.

It pre-generates every request body, says it is ready, waits for the server's address and write key,
then POSTs the bodies over a few keep-alive connections and reports latencies and counts.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

import orjson

from siyu.bench.workload import Workload, generate, with_sent_at

ERROR_SAMPLES = 5


@dataclass(frozen=True)
class LoadPlan:
    events: int
    customers: int
    batch: int
    concurrency: int
    seed: int
    run_id: str


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    write_key: str


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    answered: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, accepted)
    requests: int = 0
    errors: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_messages: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the load generator's own CPU while sending (it shares the machine with the server)
    users_touched: int = 0
    error_samples: list[str] = field(default_factory=list)


@dataclass
class _Sender:
    workload: Workload
    target: Target
    progress: Synchronized[int]
    result: LoadResult
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, indexes: itertools.count[int]) -> None:
        auth = base64.b64encode(f"{self.target.write_key}:".encode()).decode()
        headers = {"Content-Type": "application/json", "Authorization": f"Basic {auth}"}
        conn = http.client.HTTPConnection(self.target.host, self.target.port, timeout=300)
        total = len(self.workload.bodies)
        try:
            for i in indexes:
                if i >= total:
                    return
                conn = self._post(conn, headers, with_sent_at(self.workload.bodies[i], datetime.now(UTC)))
        finally:
            conn.close()

    def _post(
        self, conn: http.client.HTTPConnection, headers: dict[str, str], body: bytes
    ) -> http.client.HTTPConnection:
        started = time.perf_counter()
        try:
            conn.request("POST", "/v1/batch", body, headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._record(time.perf_counter() - started, None, f"{type(exc).__name__}: {exc}")
            return http.client.HTTPConnection(self.target.host, self.target.port, timeout=300)
        elapsed = time.perf_counter() - started
        if 200 <= response.status < 300:
            self._record(elapsed, orjson.loads(data), None)
            return conn
        self._record(elapsed, None, f"HTTP {response.status}: {data[:300].decode(errors='replace')}")
        conn.close()  # uvicorn may drop the connection after a 5xx; do not count that twice
        return http.client.HTTPConnection(self.target.host, self.target.port, timeout=300)

    def _record(self, elapsed: float, report: dict[str, Any] | None, error: str | None) -> None:
        accepted = int(report.get("accepted", 0)) if report else 0
        with self.lock:
            r = self.result
            r.requests += 1
            r.latencies_ms.append(elapsed * 1000)
            r.answered.append((time.perf_counter() - self.started, accepted))
            if report is not None:
                r.accepted += accepted
                r.duplicates += int(report.get("duplicates", 0))
                r.rejected_messages += len(report.get("errors") or [])
                if report.get("errors") and len(r.error_samples) < ERROR_SAMPLES:
                    r.error_samples.append(orjson.dumps(report["errors"][:2]).decode())
            if error is not None:
                r.errors += 1
                if len(r.error_samples) < ERROR_SAMPLES:
                    r.error_samples.append(error)
        with self.progress.get_lock():
            self.progress.value += accepted


def send_all(workload: Workload, target: Target, concurrency: int, progress: Synchronized[int]) -> LoadResult:
    """POST every body over `concurrency` keep-alive connections; latencies in the order answered."""
    sender = _Sender(workload, target, progress, LoadResult(users_touched=workload.users_touched))
    indexes = itertools.count()  # next() is atomic under the GIL: each body is sent once
    threads = [threading.Thread(target=sender.run, args=(indexes,)) for _ in range(concurrency)]
    cpu_before = time.process_time()
    sender.started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sender.result.wall_s = time.perf_counter() - sender.started
    sender.result.cpu_s = time.process_time() - cpu_before
    return sender.result


def main(
    plan: LoadPlan,
    ready: Event,
    targets: Queue[Target | None],
    progress: Synchronized[int],
    results: Queue[LoadResult | str],
) -> None:
    """Process entry point: generate, signal `ready`, wait for a Target (None aborts), send, report."""
    try:
        workload = generate(plan.events, plan.customers, plan.batch, seed=plan.seed, run_id=plan.run_id)
        ready.set()
        target = targets.get()
        if target is None:
            return
        results.put(send_all(workload, target, plan.concurrency, progress))
    except BaseException:
        results.put(traceback.format_exc())
        raise
