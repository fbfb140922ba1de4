"""The benchmark's generated traffic: shape, mix and reproducibility (no server needed)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson

from siyu.bench.workload import generate, with_sent_at


def _messages(bodies: list[bytes]) -> list[dict[str, object]]:
    sent = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for body in bodies:
        parsed = orjson.loads(with_sent_at(body, sent))
        assert parsed["sentAt"] == "2025-01-01T00:00:00.000+00:00"
        out.extend(parsed["batch"])
    return out


def test_batches_hold_every_event_once() -> None:
    workload = generate(1050, 300, 100, seed=1, run_id="t")
    assert len(workload.bodies) == 11
    messages = _messages(workload.bodies)
    assert len(messages) == 1050
    assert len({m["messageId"] for m in messages}) == 1050
    assert workload.users_touched == len({m["userId"] for m in messages}) <= 300


def test_mix_is_about_ten_percent_identify_with_personal_traits() -> None:
    messages = _messages(generate(5000, 1000, 100, seed=2).bodies)
    kinds = Counter(m["type"] for m in messages)
    assert 0.07 < kinds["identify"] / len(messages) < 0.13
    identify = next(m for m in messages if m["type"] == "identify")
    assert {"phone", "email", "name"} <= set(identify["traits"])  # type: ignore[arg-type]
    orders = [m for m in messages if m.get("event") == "Order Completed"]
    assert orders
    props = orders[0]["properties"]
    assert {"order_id", "total", "products"} <= set(props)  # type: ignore[arg-type]


def test_same_seed_same_traffic() -> None:
    end = datetime(2025, 6, 1, tzinfo=UTC)
    first = generate(300, 50, 100, seed=3, end=end).bodies
    assert first == generate(300, 50, 100, seed=3, end=end).bodies
    assert first != generate(300, 50, 100, seed=4, end=end).bodies
