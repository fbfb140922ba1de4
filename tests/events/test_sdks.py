"""The official Python SDKs, unchanged, against a live siyu: their calls end up in one unified profile.

`segment-analytics-python` POSTs `/v1/batch` with Basic auth *and* `writeKey` in the body (gzip optional);
`rudder-sdk-python` POSTs `/v1/batch` gzipped with Basic auth and puts identify traits in `context.traits`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.events.tracking import all_events, customer_by
from tests.fixtures.live_server import LiveServer

SdkFactory = Callable[[str, str], Any]


def _segment(write_key: str, host: str) -> Any:
    return SegmentClient(write_key, host=host, sync_mode=True, max_retries=0)


def _segment_gzip(write_key: str, host: str) -> Any:
    return SegmentClient(write_key, host=host, sync_mode=True, gzip=True, max_retries=0)


def _rudder(write_key: str, host: str) -> Any:
    client = RudderClient(write_key, host=host, sync_mode=True)
    assert client.gzip is True  # RudderStack's default: the body goes out gzipped
    return client


@pytest.mark.parametrize(
    "make_client", [_segment, _segment_gzip, _rudder], ids=["segment", "segment-gzip", "rudder"]
)
def test_sdk_calls_land_in_one_profile(
    make_client: SdkFactory, live_server: LiveServer, write_key: str, api: httpx.Client
) -> None:
    client = make_client(write_key, live_server.url)
    tag = uuid.uuid4().hex[:8]
    anon, user = f"anon-{tag}", f"user-{tag}"
    sent: dict[str, str] = {}

    def remember(result: tuple[bool, dict[str, Any]]) -> None:
        ok, msg = result
        assert ok
        sent[msg["messageId"]] = msg["type"]

    remember(client.page(anonymous_id=anon, name="Landing", properties={"path": "/spring-sale"}))
    remember(
        client.identify(
            user_id=user, traits={"plan": "gold", "email": f"Fan.{tag}@Example.com", "phone": "13912345678"}
        )
    )
    remember(client.alias(previous_id=anon, user_id=user))
    remember(
        client.track(
            user_id=user,
            event="Order Completed",
            properties={"order_id": f"o-{tag}", "total": 99.5, "currency": "CNY"},
        )
    )
    remember(client.group(user_id=user, group_id="store-hz-01", traits={"city": "Hangzhou"}))
    remember(client.screen(user_id=user, name="Mini Program Home"))
    assert sorted(sent.values()) == ["alias", "group", "identify", "page", "screen", "track"]

    profile = customer_by(api, f"user_id:{user}")
    assert customer_by(api, f"anonymous_id:{anon}")["id"] == profile["id"]
    assert customer_by(api, f"email:fan.{tag}@example.com")["id"] == profile["id"]
    assert customer_by(api, "phone:+8613912345678")["id"] == profile["id"]

    identities = {(i["type"], i["value"]) for i in profile["identities"]}
    assert {("user_id", user), ("anonymous_id", anon), ("phone", "+8613912345678")} <= identities
    assert ("email", f"fan.{tag}@example.com") in identities
    assert profile["traits"]["plan"] == "gold"
    assert profile["traits"]["email"] == f"Fan.{tag}@Example.com"  # admin sees personal data in full
    assert profile["stats"]["orders_count"] == 1
    assert profile["stats"]["total_spent"] == "99.50"
    assert profile["stats"]["events_count"] == 6

    events = all_events(api, profile["id"])
    assert {e["message_id"]: e["type"] for e in events} == sent
    by_type = {e["type"]: e for e in events}
    assert by_type["page"]["name"] == "Landing"
    assert by_type["page"]["anonymous_id"] == anon
    assert by_type["track"]["name"] == "Order Completed"
    assert by_type["group"]["name"] == "store-hz-01"
    assert by_type["screen"]["name"] == "Mini Program Home"
    assert by_type["track"]["context"]["library"]["name"] == "analytics-python"


def test_sdk_duplicate_delivery_is_dropped(
    live_server: LiveServer, write_key: str, api: httpx.Client
) -> None:
    """An SDK retry re-sends the same messageId: stored once."""
    client = _rudder(write_key, live_server.url)
    client.track(user_id="u-sdk-retry", event="Coupon Used", message_id="retry-1")
    client.track(user_id="u-sdk-retry", event="Coupon Used", message_id="retry-1")
    profile = customer_by(api, "user_id:u-sdk-retry")
    assert [e["message_id"] for e in all_events(api, profile["id"])] == ["retry-1"]


def test_sdk_with_a_wrong_write_key_raises(live_server: LiveServer) -> None:
    from segment.analytics.request import APIError

    client = _segment("wk_wrong", live_server.url)
    with pytest.raises(APIError) as caught:
        client.track(user_id="u", event="E")
    assert caught.value.status == 401
