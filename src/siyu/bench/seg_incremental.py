"""Incremental latency: from an event accepted by a real `siyu serve` (`POST /v1/batch`) to the membership
change being visible in `segment_members`. Each sampled customer first gets two 精华 views (untimed,
evaluated), then a third, timed one that must move them into the "精华浏览 ≥3 次/7 天" segment.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, bindparam, text

from siyu.bench.seg_event_rows import product_props
from siyu.core import fastsql
from siyu.demo import catalog

ESSENCE = next(i for i, p in enumerate(catalog.PRODUCTS) if p.category == "精华")
POLL_S = 0.01
PACE_S = 0.05  # one timed event every 50 ms (20 events/s)


@dataclass
class Incremental:
    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    skipped: int = 0  # candidates that entered during the warm-up (they had views already)
    warmup_s: float = 0.0
    note: str | None = None


def _message(user_id: str, at: datetime) -> dict[str, Any]:
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    props = product_props(ESSENCE)
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": user_id,
        "messageId": str(uuid.uuid4()),
        "timestamp": stamp,
        "properties": props,
    }


def candidates(engine: Engine, segment_id: int, count: int, now: datetime) -> list[tuple[int, str]]:
    """Members (with a userId) outside the segment and without a 精华 view in the last 7 days."""
    found: list[tuple[int, str]] = []
    since = now - timedelta(days=8)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.customer_id, i.lookup FROM identities i WHERE i.type = 'user_id'"
                " AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = :s"
                " AND m.customer_id = i.customer_id) ORDER BY i.customer_id LIMIT :n"
            ),
            {"s": segment_id, "n": count * 4},
        ).all()
        step = max(1, len(rows) // (count * 2))
        for cid, user_id in rows[::step]:
            views = conn.execute(
                text(
                    "SELECT properties FROM events WHERE customer_id = :c AND name = 'Product Viewed'"
                    " AND timestamp >= :t"
                ),
                {"c": cid, "t": fastsql.db_time(engine.dialect.name, since)},
            ).scalars()
            if all(_category(v) != "精华" for v in views):
                found.append((int(cid), str(user_id)))
            if len(found) == count:
                break
    return found


def _category(value: Any) -> Any:
    data = orjson.loads(value) if isinstance(value, str | bytes) else value
    return data.get("category") if isinstance(data, dict) else None


def _members(engine: Engine, segment_id: int, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    query = text(
        "SELECT customer_id FROM segment_members WHERE segment_id = :s AND customer_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        return {int(c) for c in conn.execute(query, {"s": segment_id, "ids": list(ids)}).scalars()}


def _queued(engine: Engine, ids: Sequence[int]) -> int:
    """Rows of these customers due now (re-checks scheduled for later do not count)."""
    query = text(
        "SELECT count(*) FROM segment_queue WHERE customer_id IN :ids AND due_at <= :now"
    ).bindparams(bindparam("ids", expanding=True))
    now = fastsql.db_time(engine.dialect.name, datetime.now(UTC))
    with engine.connect() as conn:
        return int(conn.execute(query, {"ids": list(ids), "now": now}).scalar_one())


def _send(client: httpx.Client, batch: list[dict[str, Any]]) -> None:
    response = client.post("/v1/batch", json={"batch": batch})
    response.raise_for_status()


def measure(
    engine: Engine,
    base_url: str,
    write_key: str,
    segment_id: int,
    sample: list[tuple[int, str]],
    *,
    timeout_s: float = 10.0,
    tick: Callable[[int], None] | None = None,
) -> Incremental:
    result = Incremental()
    ids = [c for c, _ in sample]
    with httpx.Client(base_url=base_url, auth=(write_key, ""), timeout=60) as client:
        started = time.perf_counter()
        warm = [_message(u, datetime.now(UTC) - timedelta(minutes=m)) for _c, u in sample for m in (2, 1)]
        for at in range(0, len(warm), 100):
            _send(client, warm[at : at + 100])
        deadline = time.monotonic() + 120
        while _queued(engine, ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        result.warmup_s = round(time.perf_counter() - started, 2)
        entered = _members(engine, segment_id, ids)
        result.skipped = len(entered)
        timed = [(c, u) for c, u in sample if c not in entered]
        pending: dict[int, float] = {}
        lock = threading.Lock()
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                with lock:
                    waiting = list(pending)
                for cid in _members(engine, segment_id, waiting):
                    seen = time.perf_counter()
                    with lock:
                        result.latencies_ms.append((seen - pending.pop(cid)) * 1000)
                now = time.perf_counter()
                with lock:
                    for cid in [c for c, t in pending.items() if now - t > timeout_s]:
                        del pending[cid]
                        result.timeouts += 1
                time.sleep(POLL_S)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for n, (cid, user_id) in enumerate(timed):
            _send(client, [_message(user_id, datetime.now(UTC))])
            with lock:
                pending[cid] = time.perf_counter()
            if tick:
                tick(n + 1)
            time.sleep(PACE_S)
        while True:
            with lock:
                if not pending:
                    break
            time.sleep(POLL_S)
        done.set()
        poller.join(timeout=5)
    if result.timeouts == len(timed):
        result.note = f"no membership change within {timeout_s:.0f}s: is the server's segment worker running?"
    return result
