"""Odd but well-formed JSON in one message must not fail the whole batch with a 500.

A 500 makes every SDK retry the same batch forever, and the valid messages in it are never stored.
Either the odd message is stored, or it is rejected on its own with the field that is wrong.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.events.tracking import all_events, customer_by, track


def _check_alone(tracker: httpx.Client, api: httpx.Client, odd: dict[str, Any], fields: set[str]) -> None:
    good = track(f"u-good-{uuid.uuid4().hex[:8]}", "Fine")
    response = tracker.post("/v1/batch", json={"batch": [odd, good]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] in (1, 2)
    if body["accepted"] == 1:
        assert [(e["index"], e["field"] in fields) for e in body["errors"]] == [(0, True)], body
    profile = customer_by(api, f"user_id:{good['userId']}")
    assert [e["message_id"] for e in all_events(api, profile["id"])] == [good["messageId"]]


def test_message_id_longer_than_the_column(tracker: httpx.Client, api: httpx.Client) -> None:
    _check_alone(tracker, api, track("u-odd", "E", messageId="m" * 200), {"messageId"})


@pytest.mark.parametrize("where", ["value", "key"])
def test_nul_character_in_properties(tracker: httpx.Client, api: httpx.Client, where: str) -> None:
    props = {"note": "a\u0000b"} if where == "value" else {"no\u0000te": 1}
    _check_alone(tracker, api, track("u-odd", "E", props), {"properties", "properties.note"})


def test_absurd_clock_skew(tracker: httpx.Client, api: httpx.Client) -> None:
    odd = track("u-odd", "E", timestamp="0001-01-01T00:00:00Z", sentAt="9999-12-31T00:00:00Z")
    _check_alone(tracker, api, odd, {"timestamp", "sentAt"})


def test_order_line_quantity_beyond_the_column(tracker: httpx.Client, api: httpx.Client) -> None:
    odd = track(
        "u-odd",
        "Order Completed",
        {"order_id": "q-1", "products": [{"product_id": "p", "price": 1, "quantity": 3_000_000_000}]},
    )
    _check_alone(tracker, api, odd, {"properties.products[0].quantity"})


def test_long_names_and_ids_are_handled(tracker: httpx.Client, api: httpx.Client) -> None:
    cases = [
        (track("u-odd", "E" * 300), {"event"}),
        (track("u-odd", "Order Completed", {"order_id": "o" * 300, "total": 1}), {"properties.order_id"}),
        (
            {"type": "identify", "userId": "u-odd", "traits": {"t" * 300: 1}, "messageId": "long-trait"},
            {"traits"},
        ),
        (track("u" * 300, "E"), {"userId"}),
    ]
    for odd, fields in cases:
        _check_alone(tracker, api, odd, fields)
