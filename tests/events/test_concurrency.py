"""Concurrent batches that create the same new customers at the same moment all succeed, once each."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from siyu.auth.service import create_source
from siyu.core.database import dispose_engines, session_factory, unit_of_work
from siyu.events.system import system_source_id
from siyu.events.tables import Event
from tests.events.test_crash_safety import ServerProcess, _message
from tests.events.tracking import identify, track
from tests.fixtures.live_server import LiveServer

THREADS = 6
ROUNDS = 4
USERS = 40
BATCHES = 60


def test_racing_batches_create_each_customer_once(
    live_server: LiveServer, write_key: str, api: httpx.Client
) -> None:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    for round_ in range(ROUNDS):
        users = [f"race-{round_}-{i}" for i in range(USERS)]
        barrier = threading.Barrier(THREADS)

        def send(thread: int, users: list[str] = users, barrier: threading.Barrier = barrier) -> None:
            batch = [
                identify(u, {"tier": "a"}, anonymousId=f"dev-{u}") if thread == 0 else track(u, f"T{thread}")
                for u in users
            ]
            with httpx.Client(base_url=live_server.url, auth=(write_key, ""), timeout=120) as client:
                barrier.wait()
                response = client.post("/v1/batch", json={"batch": batch})
            with lock:
                statuses[response.status_code] += 1

        threads = [threading.Thread(target=send, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    assert statuses == {200: THREADS * ROUNDS}
    listed = api.get("/api/v1/customers", params={"limit": 500}).json()
    assert listed["next_cursor"] is None
    assert len(listed["items"]) == ROUNDS * USERS
    for profile in listed["items"]:
        assert profile["stats"]["events_count"] == THREADS
        assert sum(1 for i in profile["identities"] if i["type"] == "user_id") == 1


@pytest.mark.slow
def test_sustained_parallel_load_is_all_accepted(db_url: str, tmp_path: Path) -> None:
    """Four writers into a real server process over an overlapping pool of new users: no batch may fail
    on an identity race (PostgreSQL: two transactions creating the same identity)."""
    with unit_of_work() as s:
        _source, key = create_source(s, "load")
    dispose_engines()
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()
    server = ServerProcess(db_url, tmp_path).wait_ready()

    def run(thread: int) -> None:
        rng = random.Random(thread)
        with httpx.Client(base_url=server.url, auth=(key, ""), timeout=120) as client:
            for batch in range(BATCHES):
                messages = [_message(thread, batch, i, rng) for i in range(50)]
                try:
                    status: int | str = client.post("/v1/batch", json={"batch": messages}).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] += 1

    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        server.stop()
    assert statuses == {200: 4 * BATCHES}, server.log.read_text()[-2000:]
    with session_factory(db_url)() as s:
        tracked = select(func.count()).select_from(Event).where(Event.source_id != system_source_id(s))
        assert s.scalar(tracked) == 4 * BATCHES * 50  # siyu's own timeline events (worker) aside
