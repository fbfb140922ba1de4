"""The Segment tracking API over real HTTP: endpoints, auth, gzip, limits, validation, duplicates."""

from __future__ import annotations

import base64
import gzip
import json
import socket
from typing import Any

import httpx
import pytest

from tests.events.tracking import all_events, customer_by, identify, mid, send_batch, track
from tests.fixtures.live_server import LiveServer

REQUEST_LIMIT = 500 * 1024
MESSAGE_LIMIT = 32 * 1024


def _padded(message: dict[str, Any], size: int) -> dict[str, Any]:
    """`message` with a `padding` property so that its JSON is exactly `size` bytes (compact form)."""
    message = {**message, "properties": {**message.get("properties", {}), "padding": ""}}
    base = len(json.dumps(message, separators=(",", ":")).encode())
    message["properties"]["padding"] = "x" * (size - base)
    assert len(json.dumps(message, separators=(",", ":")).encode()) == size
    return message


# -- endpoints ---------------------------------------------------------------------------------------


def test_batch_accepts_every_message_type(tracker: httpx.Client, api: httpx.Client) -> None:
    messages = [
        identify("u-batch", {"plan": "gold"}),
        track("u-batch", "Signed Up", {"channel": "douyin"}),
        {
            "type": "page",
            "messageId": mid(),
            "userId": "u-batch",
            "name": "Home",
            "properties": {"path": "/"},
        },
        {"type": "screen", "messageId": mid(), "userId": "u-batch", "name": "Cart"},
        {"type": "group", "messageId": mid(), "userId": "u-batch", "groupId": "g-1", "traits": {"n": 3}},
        {"type": "alias", "messageId": mid(), "userId": "u-batch", "previousId": "anon-batch"},
    ]
    report = send_batch(tracker, *messages)
    assert report == {"success": True, "accepted": 6, "duplicates": 0, "errors": []}

    profile = customer_by(api, "user_id:u-batch")
    events = all_events(api, profile["id"])
    assert {e["message_id"]: e["type"] for e in events} == {m["messageId"]: m["type"] for m in messages}
    assert profile["traits"]["plan"] == "gold"
    assert ("anonymous_id", "anon-batch") in {(i["type"], i["value"]) for i in profile["identities"]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("track", {"userId": "u-single", "event": "Coupon Claimed", "properties": {"coupon": "NEW10"}}),
        ("identify", {"userId": "u-single", "traits": {"plan": "silver"}}),
        ("page", {"userId": "u-single", "name": "Landing", "properties": {"url": "https://x.cn/a"}}),
        ("screen", {"userId": "u-single", "name": "Mini Program Home"}),
        ("group", {"userId": "u-single", "groupId": "store-42", "traits": {"city": "Hangzhou"}}),
        ("alias", {"userId": "u-single", "previousId": "anon-single"}),
    ],
)
def test_single_message_endpoints(
    tracker: httpx.Client, api: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    message_id = mid()
    response = tracker.post(f"/v1/{path}", json={**body, "messageId": message_id})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1

    profile = customer_by(api, "user_id:u-single")
    (event,) = all_events(api, profile["id"])
    assert event["message_id"] == message_id
    assert event["type"] == path  # the endpoint decides the type; the body need not say it
    if path == "track":
        assert event["name"] == "Coupon Claimed"
        assert event["properties"] == {"coupon": "NEW10"}
    if path == "identify":
        assert profile["traits"] == {"plan": "silver"}
    if path == "alias":
        assert "anon-single" in {i["value"] for i in profile["identities"]}


def test_single_endpoint_reports_a_validation_error(tracker: httpx.Client) -> None:
    response = tracker.post("/v1/track", json={"userId": "u-x", "messageId": mid()})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "event"
    assert body["errors"] == [
        {
            "index": 0,
            "messageId": body["errors"][0]["messageId"],
            "field": "event",
            "error": "event is required",
        }
    ]


# -- authentication ----------------------------------------------------------------------------------


def test_missing_write_key_is_401_with_a_reason(live_server: LiveServer) -> None:
    response = httpx.post(f"{live_server.url}/v1/batch", json={"batch": [track("u", "E")]})
    assert response.status_code == 401
    assert "write key" in response.json()["error"]


def test_unknown_write_key_is_401(live_server: LiveServer) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/batch", json={"batch": [track("u", "E")]}, auth=("wk_not-a-real-key", "")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unknown write key"


def test_unknown_write_key_in_body_is_401(live_server: LiveServer) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/batch", json={"batch": [track("u", "E")], "writeKey": "wk_nope"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unknown write key"


def test_malformed_basic_header_is_401(live_server: LiveServer) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/batch",
        json={"batch": [track("u", "E")]},
        headers={"Authorization": "Basic %%%not-base64"},
    )
    assert response.status_code == 401
    assert response.json()["field"] == "authorization"


def test_write_key_in_body_as_analytics_js_sends_it(
    live_server: LiveServer, write_key: str, api: httpx.Client
) -> None:
    message = track(None, "Page Scrolled", anonymousId="anon-ajs")
    payload = json.dumps({"batch": [message], "writeKey": write_key, "sentAt": "2026-11-01T10:00:00.000Z"})
    response = httpx.post(
        f"{live_server.url}/v1/batch", content=payload, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    profile = customer_by(api, "anonymous_id:anon-ajs")
    assert [e["message_id"] for e in all_events(api, profile["id"])] == [message["messageId"]]


def test_write_key_in_body_on_single_endpoint(
    live_server: LiveServer, write_key: str, api: httpx.Client
) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/page",
        content=json.dumps({"anonymousId": "anon-ajs-page", "name": "Home", "writeKey": write_key}),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    profile = customer_by(api, "anonymous_id:anon-ajs-page")
    (event,) = all_events(api, profile["id"])
    assert event["type"] == "page"
    assert event["name"] == "Home"


# -- body decoding -----------------------------------------------------------------------------------


def test_gzip_body(tracker: httpx.Client, api: httpx.Client) -> None:
    messages = [identify("u-gz", {"plan": "gold"}), track("u-gz", "Order Viewed")]
    raw = gzip.compress(json.dumps({"batch": messages}).encode())
    response = tracker.post(
        "/v1/batch", content=raw, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    profile = customer_by(api, "user_id:u-gz")
    assert {e["message_id"] for e in all_events(api, profile["id"])} == {m["messageId"] for m in messages}


def test_corrupt_gzip_is_400(tracker: httpx.Client) -> None:
    response = tracker.post(
        "/v1/batch", content=b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "gzip" in response.json()["error"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"batch": [', b"\xff\xfe"])
def test_invalid_json_is_400(tracker: httpx.Client, raw: bytes) -> None:
    response = tracker.post("/v1/batch", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "body"
    assert "JSON" in body["error"]


@pytest.mark.parametrize(
    ("raw", "field"), [(b"[1, 2]", "body"), (b'{"batch": {"a": 1}}', "batch"), (b"{}", "batch")]
)
def test_wrong_shape_is_400(tracker: httpx.Client, raw: bytes, field: str) -> None:
    response = tracker.post("/v1/batch", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["field"] == field


# -- size limits -------------------------------------------------------------------------------------


def test_oversized_message_rejected_and_the_others_kept(tracker: httpx.Client, api: httpx.Client) -> None:
    small = track("u-size", "Small")
    at_limit = _padded(track("u-size", "At Limit"), MESSAGE_LIMIT)
    too_big = _padded(track("u-size", "Too Big"), MESSAGE_LIMIT + 1)
    last = track("u-size", "Last")
    response = tracker.post("/v1/batch", json={"batch": [small, at_limit, too_big, last]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 3
    assert body["success"] is False
    (error,) = body["errors"]
    assert error["index"] == 2
    assert error["messageId"] == too_big["messageId"]
    assert error["field"] == "message"
    assert str(MESSAGE_LIMIT) in error["error"]

    profile = customer_by(api, "user_id:u-size")
    stored = {e["message_id"] for e in all_events(api, profile["id"])}
    assert stored == {small["messageId"], at_limit["messageId"], last["messageId"]}


def test_oversized_single_message_is_400(tracker: httpx.Client) -> None:
    body = _padded(track("u-size1", "Too Big"), MESSAGE_LIMIT + 100)
    response = tracker.post("/v1/track", json=body)
    assert response.status_code == 400
    assert str(MESSAGE_LIMIT) in response.json()["error"]


def test_request_just_under_the_limit_is_accepted(tracker: httpx.Client, api: httpx.Client) -> None:
    messages = [_padded(track("u-big", f"E{i}"), 31 * 1024) for i in range(15)]
    raw = json.dumps({"batch": messages}, separators=(",", ":")).encode()
    assert REQUEST_LIMIT - 40 * 1024 < len(raw) < REQUEST_LIMIT
    response = tracker.post("/v1/batch", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 15


def test_request_over_the_limit_is_400_naming_it(tracker: httpx.Client, api: httpx.Client) -> None:
    messages = [_padded(track("u-huge", f"E{i}"), 30 * 1024) for i in range(18)]
    raw = json.dumps({"batch": messages}, separators=(",", ":")).encode()
    assert len(raw) > REQUEST_LIMIT
    response = tracker.post("/v1/batch", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "body"
    assert str(REQUEST_LIMIT) in body["error"]
    assert api.get("/api/v1/customers", params={"identity": "user_id:u-huge"}).json()["items"] == []


def test_request_over_the_limit_without_content_length_is_400(tracker: httpx.Client) -> None:
    raw = json.dumps({"batch": [track("u", "E", {"pad": "y" * (REQUEST_LIMIT + 10)})]}).encode()

    def chunks() -> Any:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    response = tracker.post("/v1/batch", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert str(REQUEST_LIMIT) in response.json()["error"]


def test_endless_chunked_body_is_cut_off_at_the_limit(live_server: LiveServer, write_key: str) -> None:
    """The server must stop reading at the limit, not buffer whatever a client keeps sending."""
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: siyu\r\nContent-Type: application/json\r\n"
            + f"Authorization: Basic {auth}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"x" * 65536
        for _ in range(REQUEST_LIMIT // len(chunk) + 2):  # past the limit, and the body never ends
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        try:
            answer = conn.recv(65536)
        except TimeoutError:
            pytest.fail("no answer: the server is still waiting for the rest of an over-limit body")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert str(REQUEST_LIMIT).encode() in body


def test_gzip_bomb_inflating_beyond_the_limit_is_400(tracker: httpx.Client, api: httpx.Client) -> None:
    messages = [track("u-bomb", f"E{i}", {"pad": "z" * 20_000}) for i in range(40)]
    raw = gzip.compress(json.dumps({"batch": messages}).encode())
    assert len(raw) < 50 * 1024  # small on the wire, ~800 KB inflated
    response = tracker.post("/v1/batch", content=raw, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "body"
    assert str(REQUEST_LIMIT) in body["error"]
    assert api.get("/api/v1/customers", params={"identity": "user_id:u-bomb"}).json()["items"] == []


# -- per-message validation --------------------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"type": "track", "userId": "u-v", "properties": {}}, "event"),
    ({"type": "track", "event": "No Id"}, "userId"),
    ({"type": "launch", "userId": "u-v"}, "type"),
    ({"type": "alias", "userId": "u-v"}, "previousId"),
    ({"type": "group", "userId": "u-v"}, "groupId"),
    ({"type": "track", "userId": "u-v", "event": "E", "timestamp": "yesterday"}, "timestamp"),
    ({"type": "track", "userId": "u-v", "event": "E", "properties": [1, 2]}, "properties"),
    ({"type": "track", "userId": {"nested": 1}, "event": "E"}, "userId"),
    ({"type": "identify", "userId": "u-v", "traits": {"phone": "12"}}, "traits.phone"),
    ({"type": "identify", "userId": "u-v", "traits": {"email": "not-an-email"}}, "traits.email"),
    (
        {"type": "track", "userId": "u-v", "event": "Order Completed", "properties": {"total": 5}},
        "properties.order_id",
    ),
    (
        {
            "type": "track",
            "userId": "u-v",
            "event": "Order Completed",
            "properties": {"order_id": "o", "total": "abc"},
        },
        "properties.total",
    ),
]


def test_validation_errors_are_reported_and_valid_messages_kept(
    tracker: httpx.Client, api: httpx.Client
) -> None:
    batch: list[Any] = []
    expected: dict[int, str] = {}
    valid_ids = []
    for bad, field in INVALID:
        good = track("u-v", "Valid")
        batch.append(good)
        valid_ids.append(good["messageId"])
        expected[len(batch)] = field
        batch.append({**bad, "messageId": mid()})
    batch.append("not an object")
    expected[len(batch) - 1] = "message"

    response = tracker.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == len(valid_ids)
    assert body["success"] is False
    got = {e["index"]: e["field"] for e in body["errors"]}
    assert got == expected
    for error in body["errors"]:
        assert error["error"], error
        if isinstance(batch[error["index"]], dict):
            assert error["messageId"] == batch[error["index"]]["messageId"]

    profile = customer_by(api, "user_id:u-v")
    assert {e["message_id"] for e in all_events(api, profile["id"])} == set(valid_ids)
    assert profile["stats"]["events_count"] == len(valid_ids)
    assert profile["stats"]["orders_count"] == 0


def test_batch_of_only_invalid_messages_is_400(tracker: httpx.Client) -> None:
    batch = [{**bad, "messageId": mid()} for bad, _ in INVALID[:4]]
    response = tracker.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0
    assert [e["index"] for e in body["errors"]] == [0, 1, 2, 3]
    assert body["field"] == INVALID[0][1]
    assert body["error"].startswith(f"{INVALID[0][1]}:")


def test_batch_context_is_the_default_for_each_message(tracker: httpx.Client, api: httpx.Client) -> None:
    own = track("u-ctx", "Own", context={"app": {"name": "pos"}})
    shared = track("u-ctx", "Shared")
    send_batch(tracker, own, shared, context={"app": {"name": "mini-program"}, "locale": "zh-CN"})
    profile = customer_by(api, "user_id:u-ctx")
    by_id = {e["message_id"]: e for e in all_events(api, profile["id"])}
    assert by_id[own["messageId"]]["context"] == {"app": {"name": "pos"}, "locale": "zh-CN"}
    assert by_id[shared["messageId"]]["context"] == {"app": {"name": "mini-program"}, "locale": "zh-CN"}


# -- duplicates --------------------------------------------------------------------------------------


def test_duplicates_dropped_within_a_batch_and_across_requests(
    tracker: httpx.Client, api: httpx.Client
) -> None:
    first = track("u-dup", "Clicked", {"n": 1})
    copy = {**first, "properties": {"n": 2}}
    report = send_batch(tracker, first, copy)
    assert (report["accepted"], report["duplicates"]) == (1, 1)

    again = send_batch(tracker, {**first, "properties": {"n": 3}}, track("u-dup", "Other"))
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    assert again["success"] is True

    # A batch made only of duplicates is a success too: the SDK must not retry it.
    retry = tracker.post("/v1/batch", json={"batch": [first]})
    assert retry.status_code == 200
    assert (retry.json()["accepted"], retry.json()["duplicates"]) == (0, 1)

    profile = customer_by(api, "user_id:u-dup")
    events = all_events(api, profile["id"])
    assert len(events) == 2
    assert [e["properties"] for e in events if e["message_id"] == first["messageId"]] == [{"n": 1}]
    assert profile["stats"]["events_count"] == 2


def test_same_message_id_in_another_source_is_kept(
    tracker: httpx.Client, live_server: LiveServer, other_write_key: str, api: httpx.Client
) -> None:
    message = track("u-two-sources", "Viewed")
    assert send_batch(tracker, message)["accepted"] == 1
    with httpx.Client(base_url=live_server.url, auth=(other_write_key, "")) as other:
        report = send_batch(other, message)
        assert (report["accepted"], report["duplicates"]) == (1, 0)
        assert send_batch(other, message)["duplicates"] == 1

    profile = customer_by(api, "user_id:u-two-sources")
    events = all_events(api, profile["id"])
    assert [e["message_id"] for e in events] == [message["messageId"]] * 2
    assert len({e["source_id"] for e in events}) == 2


def test_messages_without_message_id_are_not_merged_as_duplicates(
    tracker: httpx.Client, api: httpx.Client
) -> None:
    batch = [{"type": "track", "userId": "u-noid", "event": "E"} for _ in range(3)]
    report = send_batch(tracker, *batch)
    assert (report["accepted"], report["duplicates"]) == (3, 0)
    profile = customer_by(api, "user_id:u-noid")
    assert len({e["message_id"] for e in all_events(api, profile["id"])}) == 3
