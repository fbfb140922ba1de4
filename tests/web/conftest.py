"""Console fixtures: a seeded brand (ingested over real HTTP) and operated through the API (a tag, segments,
RFM, lifecycle, a journey with entries, a health alert), signed-in httpx clients, a chromium page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.live_server import LiveServer

ZHANG_PHONE = "13812345678"
LI_PHONE = "13900001111"


def _messages() -> list[dict[str, Any]]:
    return [
        {
            "type": "identify",
            "messageId": "web-1",
            "userId": "u-zhang",
            "timestamp": "2026-03-01T02:00:00Z",
            "traits": {"phone": ZHANG_PHONE, "name": "张三", "email": "zhang@example.com", "plan": "gold"},
        },
        {
            "type": "track",
            "messageId": "web-2",
            "userId": "u-zhang",
            "event": "Product Viewed",
            "timestamp": "2026-03-02T02:00:00Z",
            "properties": {"product_id": "serum-30ml", "price": 199},
        },
        {
            "type": "track",
            "messageId": "web-3",
            "userId": "u-zhang",
            "event": "Order Completed",
            "timestamp": "2026-03-03T02:00:00Z",
            "properties": {"order_id": "o-1", "total": 199, "currency": "CNY", "products": []},
        },
        {
            "type": "track",
            "messageId": "web-4",
            "userId": "u-zhang",
            "event": "Order Completed",
            "timestamp": "2026-04-03T02:00:00Z",
            "properties": {"order_id": "o-2", "total": "299.00", "currency": "CNY", "products": []},
        },
        {
            "type": "identify",
            "messageId": "web-5",
            "userId": "u-li",
            "timestamp": "2026-03-05T02:00:00Z",
            "traits": {"phone": LI_PHONE, "name": "李四", "plan": "silver"},
        },
    ]


def ingest(url: str, write_key: str, messages: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{url}/v1/batch", json={"batch": messages}, auth=(write_key, ""))
    assert response.status_code == 200, response.text
    assert response.json()["errors"] == []


def customer_id_for(url: str, admin_token: str, identity: str) -> int:
    response = httpx.get(
        f"{url}/api/v1/customers",
        params={"identity": identity},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    return int(item["id"])


@pytest.fixture
def seeded(live_server: LiveServer, write_key: str, admin_token: str) -> dict[str, int]:
    """Two customers: 张三 (two orders, ¥498.00) and 李四 (no orders); returns their ids."""
    ingest(live_server.url, write_key, _messages())
    return {
        "zhang": customer_id_for(live_server.url, admin_token, f"phone:{ZHANG_PHONE}"),
        "li": customer_id_for(live_server.url, admin_token, f"phone:{LI_PHONE}"),
    }


SERUM_VIEWED = {
    "version": 1,
    "root": {
        "type": "event_count",
        "event": "Product Viewed",
        "where": [{"property": "product_id", "op": "eq", "value": "serum-30ml"}],
        "op": "gte",
        "value": 1,
    },
}
GOLD_REPEAT = {
    "version": 1,
    "root": {
        "type": "and",
        "children": [
            {"type": "trait", "name": "plan", "op": "eq", "value": "gold"},
            {"type": "order", "metric": "count", "op": "gte", "value": 2},
        ],
    },
}
AB_JOURNEY = {
    "name": "控制台测试 Console test",
    "triggers": [{"type": "manual"}],
    "start": "ab",
    "nodes": [
        {
            "type": "split",
            "id": "ab",
            "holdout_percent": 0,
            "variants": [{"name": "A", "weight": 50, "next": "a"}, {"name": "B", "weight": 50, "next": "b"}],
        },
        {"type": "send", "id": "a", "channel": "wecom", "template_id": "t_a", "next": "done"},
        {"type": "send", "id": "b", "channel": "wecom", "template_id": "t_b", "next": "done"},
        {"type": "exit", "id": "done", "reason": "sent"},
    ],
}


@dataclass
class Operated:
    zhang: int
    li: int
    group_id: int
    tag_id: int
    serum_segment: int
    gold_segment: int
    journey_id: int


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def operated(live_server: LiveServer, admin_token: str, seeded: dict[str, int]) -> Operated:
    """The seeded brand, operated as a team would: a tag on both customers, two segments (张三 in both),
    RFM and lifecycle computed, a manual A/B journey both customers entered, and a health alert (the
    interactions of the week of 9 March fell to none after the week of 2 March)."""
    from siyu.analytics.alerts import evaluate_alerts
    from siyu.core.database import unit_of_work
    from siyu.lifecycle.service import sweep

    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as api:
        group = _ok(api.post("/api/v1/tag-groups", json={"name": "兴趣偏好", "category": "interest"}))
        tag = _ok(api.post("/api/v1/tags", json={"group_id": group["id"], "name": "敏感肌"}))
        _ok(api.post(f"/api/v1/tags/{tag['id']}/customers", json={"add": [seeded["zhang"], seeded["li"]]}))
        serum = _ok(api.post("/api/v1/segments", json={"name": "看过精华", "definition": SERUM_VIEWED}))
        gold = _ok(api.post("/api/v1/segments", json={"name": "金卡复购", "definition": GOLD_REPEAT}))
        _ok(api.post("/api/v1/rfm/recompute"))
        journey = _ok(api.post("/api/v1/journeys", json={"definition": AB_JOURNEY}))
        _ok(api.post(f"/api/v1/journeys/{journey['id']}/activate"))
        ids = [seeded["zhang"], seeded["li"]]
        _ok(api.post(f"/api/v1/journeys/{journey['id']}/trigger", json={"customer_ids": ids}))
    with unit_of_work() as session:
        sweep(session, datetime(2026, 4, 10, tzinfo=UTC), full=True)
        assert evaluate_alerts(session, datetime(2026, 3, 16, 4, 0, tzinfo=UTC))
    return Operated(
        seeded["zhang"], seeded["li"], group["id"], tag["id"], serum["id"], gold["id"], journey["id"]
    )


def signed_in_client(url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url) as client:
        response = client.post("/signin", data={"token": token})
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
def admin_console(live_server: LiveServer, admin_token: str) -> Iterator[httpx.Client]:
    yield from signed_in_client(live_server.url, admin_token)


@pytest.fixture
def viewer_console(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    yield from signed_in_client(live_server.url, viewer_token)


@pytest.fixture
def anonymous(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (Playwright's own browser download is not used)."""
    from playwright import sync_api

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make deps` (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
