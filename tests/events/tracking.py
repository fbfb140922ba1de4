"""Helpers for tests that speak the Segment tracking API and read the result back through `/api/v1`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx


def mid() -> str:
    """A fresh messageId."""
    return f"m-{uuid.uuid4().hex}"


def identify(
    user_id: str | None = None, traits: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "identify", "messageId": mid(), "traits": traits or {}}
    if user_id is not None:
        msg["userId"] = user_id
    msg.update(extra)
    return msg


def track(
    user_id: str | None, event: str, properties: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "track",
        "messageId": mid(),
        "event": event,
        "properties": properties or {},
    }
    if user_id is not None:
        msg["userId"] = user_id
    msg.update(extra)
    return msg


def send_batch(tracker: httpx.Client, *messages: dict[str, Any], **body: Any) -> dict[str, Any]:
    """POST /v1/batch and insist on 200; returns the JSON report."""
    response = tracker.post("/v1/batch", json={"batch": list(messages), **body})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def customer_by(api: httpx.Client, identity: str) -> dict[str, Any]:
    """The one unified profile holding `identity` (TYPE:VALUE)."""
    response = api.get("/api/v1/customers", params={"identity": identity})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1, f"{identity}: expected one customer, got {items}"
    profile: dict[str, Any] = items[0]
    return profile


def all_events(api: httpx.Client, customer_id: int, page_size: int = 200) -> list[dict[str, Any]]:
    """A customer's whole timeline, following cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": page_size}
        if cursor:
            params["cursor"] = cursor
        response = api.get(f"/api/v1/customers/{customer_id}/events", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("timeline paging did not end")


def when(text: str) -> datetime:
    """Parse a timestamp as the API returns it."""
    return datetime.fromisoformat(text)
