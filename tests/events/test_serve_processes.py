"""`siyu serve --workers 2`: two server processes; on SQLite they hand their batches to one writer and
the background worker runs in a process of its own (it would otherwise share the writer's GIL)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from siyu.auth.service import create_source
from siyu.core.database import dispose_engines, session_factory, unit_of_work
from siyu.customers.tables import CustomerStats
from siyu.segments.tables import EvaluationDue
from tests.events.test_crash_safety import ServerProcess


@pytest.mark.slow
def test_two_processes_store_events_and_the_worker_drains_the_queue(db_url: str, tmp_path: Path) -> None:
    with unit_of_work() as s:
        _source, key = create_source(s, "two")
    dispose_engines()
    server = ServerProcess(db_url, tmp_path, workers=2).wait_ready()
    try:
        batch = [
            {"type": "track", "messageId": f"two-{i}", "userId": f"two-u{i % 5}", "event": "Product Viewed"}
            for i in range(20)
        ]
        answer = httpx.post(f"{server.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 20

        with session_factory(db_url)() as s:
            assert s.scalar(select(func.sum(CustomerStats.events_count))) == 20
        deadline = time.monotonic() + 60
        queued = -1
        while time.monotonic() < deadline:
            with session_factory(db_url)() as s:
                queued = s.scalar(select(func.count()).select_from(EvaluationDue)) or 0
            if queued == 0:
                break
            time.sleep(0.2)
        assert queued == 0, f"the worker did not drain the segment queue: {server.log.read_text()[-2000:]}"

        if db_url.startswith("sqlite"):
            # the worker is a child of its own; left alone by a killed `siyu serve`, it stops by itself
            root = psutil.Process(server.proc.pid)
            workers = [p for p in root.children() if _is_worker(p)]
            assert len(workers) == 1, [p.cmdline() for p in root.children()]
            worker = workers[0]
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=30)
            worker.wait(timeout=30)  # raises psutil.TimeoutExpired if it lingers
    finally:
        if server.proc.poll() is None:
            server.stop()
        with_group_gone(server)
        dispose_engines()


def _is_worker(process: psutil.Process) -> bool:
    """The worker child: a spawned Python process that is not a uvicorn server process (those listen)."""
    try:
        return "spawn_main" in " ".join(process.cmdline()) and not process.net_connections(kind="tcp")
    except psutil.Error:
        return False


def with_group_gone(server: ServerProcess) -> None:
    """Whatever is left of the server's session (orphaned server processes) is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
