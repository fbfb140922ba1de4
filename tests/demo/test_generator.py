"""The generator is a pure function of (customers, seed, anchor): byte-identical streams, no clock."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from siyu.demo.generator import HISTORY_DAYS, customers, generate
from siyu.demo.messages import DemoMessage
from siyu.demo.seasons import Calendar
from tests.demo.conftest import ANCHOR


def _bytes(stream: list[DemoMessage]) -> bytes:
    return orjson.dumps([(m.channel, m.customer, m.payload) for m in stream])


def test_same_seed_and_anchor_give_a_byte_identical_stream() -> None:
    first, second = generate(120, 7, ANCHOR), generate(120, 7, ANCHOR)
    assert len(first) > 500
    assert _bytes(first) == _bytes(second)


def test_stream_does_not_depend_on_hash_randomisation_or_the_clock() -> None:
    """Two fresh interpreters with different hash seeds (and a different wall clock) agree with this one."""
    script = (
        "import hashlib, orjson; from datetime import datetime, UTC;"
        "from siyu.demo.generator import generate;"
        "s = generate(60, 7, datetime(2026, 3, 15, tzinfo=UTC));"
        "print(hashlib.sha256(orjson.dumps([(m.channel, m.customer, m.payload) for m in s])).hexdigest())"
    )
    here = hashlib.sha256(_bytes(generate(60, 7, ANCHOR))).hexdigest()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == here


def test_a_different_seed_gives_a_different_brand() -> None:
    a, b = generate(120, 7, ANCHOR), generate(120, 8, ANCHOR)
    assert _bytes(a) != _bytes(b)
    assert not {m.payload["messageId"] for m in a} & {m.payload["messageId"] for m in b}
    people_a = {c.person.phone for c in customers(120, 7, ANCHOR)} - {None}
    people_b = {c.person.phone for c in customers(120, 8, ANCHOR)} - {None}
    assert not people_a & people_b


def test_a_customer_does_not_depend_on_how_many_are_generated() -> None:
    small = list(customers(30, 7, ANCHOR))
    large = list(customers(90, 7, ANCHOR))[:30]
    assert [c.messages for c in small] == [c.messages for c in large]


def test_stream_is_in_time_order_within_the_history() -> None:
    stream = generate(300, 7, ANCHOR)
    times = [m.at for m in stream]
    assert times == sorted(times)
    assert times[-1] < ANCHOR
    assert times[0] >= ANCHOR - timedelta(days=HISTORY_DAYS + 1)
    assert times[0] < ANCHOR - timedelta(days=HISTORY_DAYS - 60), "history should reach back ~18 months"
    assert all(m.payload["timestamp"] == m.at.isoformat(timespec="milliseconds")[:-6] + "Z" for m in stream)


def test_message_ids_are_unique() -> None:
    stream = generate(300, 7, ANCHOR)
    assert len({m.payload["messageId"] for m in stream}) == len(stream)


def test_the_anchor_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Calendar(datetime(2026, 3, 15), 30)


def test_history_follows_the_anchor() -> None:
    later = ANCHOR + timedelta(days=200)
    stream = generate(100, 7, later)
    assert max(m.at for m in stream) < later
    assert max(m.at for m in stream) > later - timedelta(days=30)
    assert min(m.at for m in stream).astimezone(UTC) > ANCHOR - timedelta(days=HISTORY_DAYS - 150)


def test_message_ids_are_the_uuid5_of_seed_customer_and_sequence() -> None:
    import uuid

    from siyu.demo.messages import NAMESPACE, uuid5

    for name in ("7/0/0", "42/2999/17", "0/1/123456"):
        assert uuid5(name) == str(uuid.uuid5(NAMESPACE, name))
    first = customers(3, 7, ANCHOR).__next__()
    assert [m.payload["messageId"] for m in first.messages] == [
        str(uuid.uuid5(NAMESPACE, f"7/0/{n}")) for n in range(len(first.messages))
    ]
