"""Exactly once with real worker processes (`siyu worker`) and a local webhook sink that counts by
Idempotency-Key: a worker killed with SIGKILL while messages are in flight is restarted and every customer
gets exactly one message; two workers on PostgreSQL never send the same message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.bench.server import siyu_command
from siyu.core.clock import now
from siyu.core.database import dispose_engines, session_factory
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer
from siyu.devtools.pg_server import free_port
from siyu.events.tables import Event
from siyu.journeys import service
from siyu.messaging import template_store
from siyu.messaging.tables import OutboxMessage


class Sink:
    """Counts requests per Idempotency-Key when they arrive; after `hold_after` requests it stops
    answering until `release()` (so a worker can be killed with messages on the wire)."""

    def __init__(self, hold_after: int | None = None) -> None:
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.hold_after = hold_after
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with sink.lock:
                    sink.keys[self.headers["Idempotency-Key"]] += 1
                    held = sink.hold_after is not None and sum(sink.keys.values()) > sink.hold_after
                if held:
                    sink.gate.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def received(self) -> int:
        with self.lock:
            return sum(self.keys.values())

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def prepare(db_url: str, customers: int) -> list[str]:
    """N customers, a webhook journey started for all of them: N pending outbox rows; their keys."""
    factory = session_factory(db_url)
    with factory() as s:
        s.add_all([Customer(created_at=now()) for _ in range(customers)])
        s.flush()
        ids = list(s.scalars(select(Customer.id)))
        template_store.save(s, "hook", {"channel": "webhook", "body": "订单 {{ customer.id }} 已发货"},
                            actor="test", now=now())  # fmt: skip
        send = {"type": "send", "id": "send", "channel": "webhook", "template_id": "hook",
                "purpose": "transactional", "next": "done"}  # fmt: skip
        definition = {"name": "发货通知", "triggers": [{"type": "manual"}], "start": "send",
                      "nodes": [send, {"type": "exit", "id": "done"}]}  # fmt: skip
        journey = service.create(s, definition, actor="test", now=now())
        service.transition(s, journey.id, "activate", now=now())
        service.trigger(s, journey.id, now=now(), actor="test", customer_ids=ids, key="all")
        s.commit()
        return sorted(s.scalars(select(OutboxMessage.key)))


def start_worker(db_url: str, sink: Sink, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SIYU_DATABASE_URL": db_url, "SIYU_ENVIRONMENT": "test",
           "SIYU_WEBHOOK_URL": sink.url, "SIYU_WEBHOOK_SECRET": "whsec", "SIYU_OUTBOX_LEASE_S": "2",
           "SIYU_RUNNER_BATCH_SIZE": "10",
           "SIYU_OUTBOX_SEND_THREADS": "4", "SIYU_WORKER_POLL_INTERVAL_S": "0.05"}  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen([*siyu_command(), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def statuses(db_url: str) -> Counter[str]:
    with session_factory(db_url)() as s:
        o = OutboxMessage.__table__.c
        return Counter(
            {str(k): int(n) for k, n in s.execute(select(o.status, func.count()).group_by(o.status))}
        )


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_sigkill_mid_dispatch_then_restart_sends_each_message_once(
    db_url: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    keys = prepare(db_url, 60)
    sink = Sink(hold_after=15)
    log = tmp_path / "worker.log"
    try:
        workers.append(start_worker(db_url, sink, log))
        wait_for(
            lambda: sink.received() > 15, 60, f"the first sends ({log.read_text(errors='replace')[-2000:]})"
        )
        time.sleep(0.3)  # the rest of that batch reaches the held sink
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        in_flight = statuses(db_url)["sending"]
        assert in_flight > 0  # killed between "sent" and "recorded"
        seen_before_restart = set(sink.keys)
        sink.hold_after = None
        sink.gate.set()
        workers.append(start_worker(db_url, sink, log))
        wait_for(lambda: statuses(db_url) == Counter({"sent": 60}), 60, "every message recorded as sent")
    finally:
        sink.stop()
    assert sorted(sink.keys) == keys  # each customer's message reached the sink
    resent = {k for k, n in sink.keys.items() if n > 1}
    assert resent and resent <= seen_before_restart and len(resent) <= in_flight  # only the in-flight ones
    assert max(sink.keys.values()) == 2  # the receiver dedupes by key: one message per customer
    with session_factory(db_url)() as s:
        sent = Counter(s.scalars(select(Event.customer_id).where(Event.name == "Message Sent")))
    assert len(sent) == 60 and set(sent.values()) == {1}


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """PostgreSQL only: several workers are a PostgreSQL deployment (SQLite has one in-process worker)."""
    server = request.getfixturevalue("pg_server")
    url = server.create_database(f"t_{uuid.uuid4().hex[:12]}", template="siyu_template")
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield url
    dispose_engines()
    get_settings.cache_clear()


@pytest.mark.postgres
def test_two_workers_on_postgres_never_duplicate(
    pg_url: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    db_url = pg_url
    keys = prepare(db_url, 400)
    sink = Sink()
    try:
        workers.extend(start_worker(db_url, sink, tmp_path / f"worker{i}.log") for i in range(2))
        wait_for(lambda: statuses(db_url) == Counter({"sent": 400}), 120, "every message sent")
    finally:
        sink.stop()
    assert sorted(sink.keys) == keys and set(sink.keys.values()) == {1}
