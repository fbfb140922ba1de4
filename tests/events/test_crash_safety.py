"""SIGKILL a real `siyu serve` in the middle of a load: every message answered 2xx is in the database."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from siyu.auth.service import create_source
from siyu.core.database import chunks, dispose_engines, session_factory, unit_of_work
from siyu.events.tables import Event
from tests.fixtures.live_server import free_port

SIYU = str(Path(sys.executable).with_name("siyu"))
THREADS = 4
BATCH = 50


class ServerProcess:
    """`siyu serve` as a child process of its own (its own session, so signals reach only it)."""

    def __init__(self, db_url: str, workdir: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"serve-{self.port}.log"
        env = {**os.environ, "SIYU_DATABASE_URL": db_url, "SIYU_ENVIRONMENT": "test"}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [SIYU, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, seconds: float = 120) -> ServerProcess:
        deadline = time.monotonic() + seconds
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"siyu serve exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError as exc:
                last = repr(exc)  # not listening yet
            time.sleep(0.1)
        raise AssertionError(f"siyu serve did not become healthy ({last}): {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL every process of the server at once (its session: server processes included)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _message(thread: int, batch: int, index: int, rng: random.Random) -> dict[str, Any]:
    user = f"load-{rng.randrange(3000)}"
    message_id = f"crash-t{thread}-b{batch}-m{index}"
    if rng.random() < 0.1:
        return {
            "type": "identify",
            "messageId": message_id,
            "userId": user,
            "traits": {"tier": rng.choice("abc")},
        }
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": rng.choice(["Product Viewed", "Page Scrolled", "Coupon Claimed"]),
        "properties": {"n": index, "product_id": f"p{rng.randrange(50)}"},
    }


class Load:
    """Threads that send batches until the server stops answering; remembers what was acknowledged."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.acked: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.transport_errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(THREADS)]

    def start(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def acked_batches(self) -> int:
        with self.lock:
            return len(self.acked) // BATCH

    def _run(self, thread: int) -> None:
        rng = random.Random(thread)
        with httpx.Client(base_url=self.url, auth=(self.key, ""), timeout=120) as client:
            for batch in range(100_000):
                messages = [_message(thread, batch, i, rng) for i in range(BATCH)]
                try:
                    response = client.post("/v1/batch", json={"batch": messages})
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.transport_errors[type(exc).__name__] += 1
                    return  # the server is gone
                with self.lock:
                    self.statuses[response.status_code] += 1
                    if 200 <= response.status_code < 300:
                        self.acked.extend(m["messageId"] for m in messages)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=60)
            assert not t.is_alive()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_load_loses_no_acknowledged_message(db_url: str, tmp_path: Path, workers: int) -> None:
    """With 2 server processes on SQLite, they hand their batches to one writer (siyu.events.writer)."""
    with unit_of_work() as s:
        _source, key = create_source(s, "load")
    dispose_engines()

    server = ServerProcess(db_url, tmp_path, workers).wait_ready()
    one_writer = "hand tracking batches to one writer" in server.log.read_text()
    assert one_writer == (workers > 1 and db_url.startswith("sqlite")), server.log.read_text()
    try:
        load = Load(server.url, key).start()
        deadline = time.monotonic() + 120
        while load.acked_batches() < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert load.acked_batches() >= 30, (load.statuses, server.log.read_text())
        assert all(t.is_alive() for t in load.threads), (
            load.transport_errors,
            server.log.read_text()[-3000:],
        )
        server.kill()
        load.join()
    finally:
        server.stop()

    # Requests were cut mid-flight (not only refused afterwards): the kill landed mid-load.
    assert set(load.transport_errors) - {"ConnectError"}, load.transport_errors
    assert set(load.statuses) == {200}, load.statuses
    assert sum(load.transport_errors.values()) == THREADS  # every thread lost the server
    acked = set(load.acked)
    assert len(acked) == len(load.acked)

    restarted = ServerProcess(db_url, tmp_path).wait_ready()
    try:
        with session_factory(db_url)() as s:
            stored: set[str] = set()
            for part in chunks(sorted(acked), 500):
                stored.update(s.scalars(select(Event.message_id).where(Event.message_id.in_(part))))
        missing = acked - stored
        assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"

        # The restarted server knows them: re-sending an acknowledged batch stores nothing new.
        sample = sorted(acked)[:BATCH]
        resend = [{"type": "track", "messageId": m, "userId": "load-0", "event": "Resent"} for m in sample]
        response = httpx.post(f"{restarted.url}/v1/batch", json={"batch": resend}, auth=(key, ""), timeout=30)
        assert response.status_code == 200, response.text
        assert (response.json()["accepted"], response.json()["duplicates"]) == (0, len(sample))
    finally:
        restarted.stop()
        dispose_engines()
