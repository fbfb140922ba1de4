"""Segment's analytics.js (`@segment/analytics-next`, vendored unchanged) in chromium, pointed at siyu.

A shop page on one local origin loads the library and calls page, alias, identify, track and group; the
library's own transport sends them cross-origin to the live siyu server (a CORS preflight: it sets an
`Authorization: Basic` header and posts `text/plain` JSON with the `writeKey` in the body). The calls are
then read back through `/api/v1` as one unified profile.

No Playwright route is installed: with one, Playwright answers CORS preflights itself and siyu's own CORS
answer would go untested. The browser resolves no host name instead, and every request is recorded.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser_sdk.conftest import Shop
from tests.events.tracking import all_events, customer_by
from tests.fixtures.live_server import LiveServer

pytestmark = pytest.mark.browser

STANDARD = None  # analytics.js's default: one request per call, to /v1/{t,i,p,a,g}
BATCHING = {"strategy": "batching", "config": {"size": 5, "timeout": 500}}  # one request to /v1/b
CDN = "cdn"  # only `cdnURL` given: the library reads its settings from siyu's /v1/projects/{key}/settings
CALLS = ["page", "alias", "identify", "track", "group"]


class Traffic:
    """Every request the page makes, the tracking posts with their answers, and the CORS preflights."""

    def __init__(self, page: Any, cdp: Any, api_url: str) -> None:
        self.api_url = api_url
        self.urls: list[str] = []
        self.failed: list[str] = []
        self.posts: list[Any] = []
        self.answers: dict[Any, dict[str, Any]] = {}  # by request
        self.preflights: dict[str, dict[str, Any]] = {}
        page.on("request", self._request)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.method} {r.url}: {r.failure}"))
        page.on("requestfinished", self._finished)
        cdp.on("Network.requestWillBeSent", self._cdp_request)
        cdp.on("Network.responseReceived", self._cdp_response)

    def _request(self, request: Any) -> None:
        self.urls.append(request.url)
        if request.method == "POST" and request.url.startswith(f"{self.api_url}/v1/"):
            self.posts.append(request)

    def _finished(self, request: Any) -> None:
        if request in self.posts:
            response = request.response()
            self.answers[request] = {
                "status": response.status,
                "headers": response.all_headers(),
                "body": response.text(),
            }

    def _cdp_request(self, event: dict[str, Any]) -> None:
        if event["type"] == "Preflight" or event.get("initiator", {}).get("type") == "preflight":
            self.preflights[event["requestId"]] = {"request": event["request"]}

    def _cdp_response(self, event: dict[str, Any]) -> None:
        if event["requestId"] in self.preflights:
            self.preflights[event["requestId"]]["response"] = event["response"]

    def messages_answered(self) -> int:
        return sum(len(messages_in(r)) for r in self.posts if r in self.answers)

    def messages(self) -> list[dict[str, Any]]:
        return [m for r in self.posts for m in messages_in(r)]


def messages_in(request: Any) -> list[dict[str, Any]]:
    """The messages one tracking post carried: a batch's list, or the single message."""
    body: dict[str, Any] = request.post_data_json
    messages: list[dict[str, Any]] = body.get("batch", [body])
    return messages


def visit_shop(page: Any, traffic: Traffic, url: str) -> dict[str, Any]:
    page.goto(url)
    outcome: dict[str, Any] = page.evaluate("window.visited")
    assert "error" not in outcome, outcome["error"]
    deadline = time.monotonic() + 20
    while traffic.messages_answered() < len(CALLS) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return outcome


@pytest.mark.parametrize(
    "strategy", [STANDARD, BATCHING, CDN], ids=["standard", "batching", "settings-from-siyu"]
)
def test_analytics_js_calls_land_in_one_profile(
    strategy: dict[str, Any] | str | None,
    offline_browser: Any,
    shop: Shop,
    analytics_js: tuple[str, bytes],
    live_server: LiveServer,
    write_key: str,
    api: httpx.Client,
) -> None:
    version = analytics_js[0]
    api_host = urlsplit(live_server.url).netloc
    if strategy == CDN:
        shop_url = shop.set_page({"writeKey": write_key, "cdnURL": live_server.url})
    else:
        shop_url = shop.set_page(
            {"writeKey": write_key, "apiHost": f"{api_host}/v1", "deliveryStrategy": strategy}
        )
    context = offline_browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        traffic = Traffic(page, cdp, live_server.url)
        outcome = visit_shop(page, traffic, shop_url)
    finally:
        context.close()

    # Nothing left 127.0.0.1 (no CDN settings, no code chunks, no metrics), and nothing failed.
    assert [u for u in traffic.urls if urlsplit(u).hostname != "127.0.0.1"] == []
    assert traffic.failed == []
    assert outcome["version"] == version

    # The library's own transport: text/plain JSON, write key in Basic auth and in the body.
    paths = sorted(urlsplit(r.url).path for r in traffic.posts)
    expected_paths = ["/v1/b"] if strategy == BATCHING else sorted(f"/v1/{kind[0]}" for kind in CALLS)
    fetched_settings = [u for u in traffic.urls if u.endswith(f"/v1/projects/{write_key}/settings")]
    assert len(fetched_settings) == (1 if strategy == CDN else 0)
    assert paths == expected_paths
    for request in traffic.posts:
        headers = request.headers
        answer = traffic.answers[request]
        assert answer["status"] == 200, f"POST {request.url} {headers} {request.post_data} -> {answer}"
        assert headers["content-type"] == "text/plain"
        assert headers["authorization"].startswith("Basic ")
        assert request.post_data_json["writeKey"] == write_key
        assert answer["headers"]["access-control-allow-origin"] == shop.url
        assert json.loads(answer["body"])["errors"] == []
    assert outcome["failures"] == []

    # siyu answered the browser's CORS preflights itself.
    assert traffic.preflights, "the browser sent no CORS preflight"
    for preflight in traffic.preflights.values():
        assert preflight["request"]["method"] == "OPTIONS"
        response = preflight["response"]
        assert response["status"] in (200, 204), preflight
        allowed = {k.lower(): v for k, v in response["headers"].items()}
        assert allowed["access-control-allow-origin"] == shop.url
        assert "authorization" in allowed["access-control-allow-headers"].lower()

    sent = {m["messageId"]: m["type"] for m in traffic.messages()}
    assert sorted(sent.values()) == sorted(CALLS)
    anonymous_id = outcome["anonymousId"]
    assert anonymous_id

    # One unified profile, found by user id, by the browser's anonymous id, by phone and by email.
    profile = customer_by(api, "user_id:u-js-1")
    assert customer_by(api, f"anonymous_id:{anonymous_id}")["id"] == profile["id"]
    assert customer_by(api, "phone:13912345678")["id"] == profile["id"]
    assert customer_by(api, "email:js@example.com")["id"] == profile["id"]
    identities = {(i["type"], i["value"]) for i in profile["identities"]}
    assert {("user_id", "u-js-1"), ("anonymous_id", anonymous_id), ("phone", "+8613912345678")} <= identities
    assert profile["traits"]["name"] == "张三"
    assert profile["traits"]["email"] == "Js@Example.com"
    assert profile["stats"]["events_count"] == len(CALLS)

    events = all_events(api, profile["id"])
    assert {e["message_id"]: e["type"] for e in events} == sent
    by_type = {e["type"]: e for e in events}
    assert by_type["page"]["name"] == "Home"
    assert by_type["page"]["user_id"] is None
    assert by_type["page"]["anonymous_id"] == anonymous_id
    assert by_type["page"]["properties"]["url"] == shop_url
    assert by_type["page"]["properties"]["title"] == "Siyu test shop"
    assert by_type["identify"]["user_id"] == "u-js-1"
    assert by_type["identify"]["anonymous_id"] == anonymous_id
    assert by_type["track"]["name"] == "Product Viewed"
    assert by_type["track"]["properties"] == {"product_id": "p1", "price": 99.5}
    assert by_type["group"]["name"] == "store-hz-01"
    library = by_type["track"]["context"]["library"]
    assert library == {"name": "analytics.js", "version": f"next-{version}"}
