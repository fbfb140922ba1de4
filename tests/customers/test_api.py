"""The customer read API over real HTTP: profiles, search, paging, errors, masking, merges, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.events.tracking import all_events, customer_by, identify, send_batch, track, when
from tests.fixtures.live_server import LiveServer

PHONE = "13912345678"
EMAIL = "Li.Na@Example.com"
NAME = "李娜"
ADDRESS = "上海市徐汇区漕溪北路1号"


@pytest.fixture
def viewer(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {viewer_token}"}
    ) as client:
        yield client


def _person(tracker: httpx.Client, user_id: str = "u-lina") -> None:
    send_batch(
        tracker,
        identify(user_id, {"phone": PHONE, "email": EMAIL, "name": NAME, "address": ADDRESS, "plan": "gold"}),
        track(user_id, "Form Submitted", {"phone": PHONE, "email": EMAIL, "form": "trial"}),
        identify(user_id, {"tier": "vip"}, context={"traits": {"phone": PHONE, "name": NAME}}),
    )


def _new_customer(tracker: httpx.Client, user_id: str, **traits: Any) -> None:
    send_batch(tracker, identify(user_id, traits))


# -- profiles and search -----------------------------------------------------------------------------


def test_profile_by_id(tracker: httpx.Client, api: httpx.Client) -> None:
    _person(tracker)
    found = customer_by(api, "user_id:u-lina")
    response = api.get(f"/api/v1/customers/{found['id']}")
    assert response.status_code == 200
    profile = response.json()
    assert profile == found
    assert set(profile) == {
        "id",
        "requested_id",
        "merged",
        "created_at",
        "identities",
        "traits",
        "stats",
        "merges",
        "tags",
        "rfm",
        "lifecycle_stage",
        "predictions",
    }
    assert (profile["requested_id"], profile["merged"], profile["merges"]) == (found["id"], False, [])
    assert {(i["type"], i["value"], i["personal"]) for i in profile["identities"]} == {
        ("user_id", "u-lina", False),
        ("phone", "+86" + PHONE, True),
        ("email", EMAIL.lower(), True),
    }
    assert profile["traits"] == {
        "phone": PHONE,
        "email": EMAIL,
        "name": NAME,
        "address": ADDRESS,
        "plan": "gold",
        "tier": "vip",
    }
    assert profile["stats"]["events_count"] == 3


@pytest.mark.parametrize(
    "identity",
    [
        f"phone:{PHONE}",
        f"phone:+86{PHONE}",
        "phone:+86 139-1234-5678",
        f"email:{EMAIL}",
        f"email:{EMAIL.lower()}",
        f"email:{EMAIL.upper()}",
        "email:  li.na@example.com  ",
        "user_id:u-lina",
    ],
)
def test_search_by_identity_in_any_spelling(tracker: httpx.Client, api: httpx.Client, identity: str) -> None:
    _person(tracker)
    expected = customer_by(api, "user_id:u-lina")["id"]
    assert customer_by(api, identity)["id"] == expected


def test_search_for_an_unknown_identity_is_empty(tracker: httpx.Client, api: httpx.Client) -> None:
    _person(tracker)
    for identity in ("phone:13800000000", "email:nobody@example.com", "user_id:nobody", "member_id:u-lina"):
        response = api.get("/api/v1/customers", params={"identity": identity})
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


def test_search_by_trait(tracker: httpx.Client, api: httpx.Client) -> None:
    _new_customer(tracker, "t-1", plan="gold", vip=True)
    _new_customer(tracker, "t-2", plan="gold", vip=False)
    _new_customer(tracker, "t-3", plan="silver", vip=True)

    def users(**params: str) -> list[str]:
        response = api.get("/api/v1/customers", params=params)
        assert response.status_code == 200, response.text
        return sorted(
            next(i["value"] for i in c["identities"] if i["type"] == "user_id")
            for c in response.json()["items"]
        )

    assert users(trait="plan:gold") == ["t-1", "t-2"]
    assert users(trait="plan:silver") == ["t-3"]
    assert users(trait="vip:true") == ["t-1", "t-3"]
    assert users(trait="plan:platinum") == []
    assert users(trait="plan:gold", identity="user_id:t-2") == ["t-2"]
    assert users(trait="plan:silver", identity="user_id:t-2") == []


def test_trait_search_pages(tracker: httpx.Client, api: httpx.Client) -> None:
    for i in range(11):
        _new_customer(tracker, f"tp-{i}", plan="gold" if i % 2 else "silver")
    gold = [c["id"] for c in _pages(api, {"trait": "plan:gold"}, 2)]
    assert len(gold) == len(set(gold)) == 5
    for cid in gold:
        assert api.get(f"/api/v1/customers/{cid}").json()["traits"]["plan"] == "gold"


def test_numeric_traits_are_readable(tracker: httpx.Client, api: httpx.Client) -> None:
    send_batch(tracker, identify("u-num", {"age": 31, "score": 4.5, "vip": True, "plan": "gold"}))
    profile = customer_by(api, "user_id:u-num")
    assert profile["traits"] == {"age": 31, "score": 4.5, "vip": True, "plan": "gold"}


def test_trait_search_refuses_personal_traits(tracker: httpx.Client, api: httpx.Client) -> None:
    _person(tracker)
    response = api.get("/api/v1/customers", params={"trait": f"phone:{PHONE}"})
    assert response.status_code == 400
    assert response.json()["field"] == "trait"
    assert "identity" in response.json()["error"]


def test_later_traits_win_by_event_time(tracker: httpx.Client, api: httpx.Client) -> None:
    send_batch(
        tracker,
        identify("u-lww", {"plan": "gold"}, timestamp="2026-05-02T00:00:00Z"),
        identify("u-lww", {"plan": "bronze"}, timestamp="2026-05-01T00:00:00Z"),  # older, arrives later
    )
    assert customer_by(api, "user_id:u-lww")["traits"]["plan"] == "gold"


# -- paging ------------------------------------------------------------------------------------------


def _pages(api: httpx.Client, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Every customer the list returns for `params`, following `next_cursor` page by page."""
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor is not None else {})}
        response = api.get("/api/v1/customers", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        assert len(body["items"]) == limit  # only a full page may have a next one
    raise AssertionError("paging did not end")


def test_customer_list_pages_without_gaps_or_duplicates(tracker: httpx.Client, api: httpx.Client) -> None:
    for i in range(11):
        _new_customer(tracker, f"page-{i}", plan="gold" if i % 2 else "silver")
    everyone = api.get("/api/v1/customers", params={"limit": 500}).json()
    assert everyone["next_cursor"] is None
    all_ids = [c["id"] for c in everyone["items"]]
    assert len(all_ids) == 11
    assert all_ids == sorted(all_ids)
    for limit in (1, 3, 5, 11, 12):
        assert [c["id"] for c in _pages(api, {}, limit)] == all_ids


def test_an_exact_last_page_has_no_next_cursor(tracker: httpx.Client, api: httpx.Client) -> None:
    for i in range(4):
        _new_customer(tracker, f"exact-{i}")
    first = api.get("/api/v1/customers", params={"limit": 2}).json()
    second = api.get("/api/v1/customers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


def test_timeline_pages_newest_first_without_gaps_or_duplicates(
    tracker: httpx.Client, api: httpx.Client
) -> None:
    base = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    messages = []
    for i in range(23):
        # Groups of three share a timestamp: the cursor must break ties.
        stamp = (base + timedelta(minutes=i // 3)).isoformat().replace("+00:00", "Z")
        messages.append(track("u-timeline", f"E{i}", timestamp=stamp))
    send_batch(tracker, *messages[:12])
    send_batch(tracker, *messages[12:])
    customer = customer_by(api, "user_id:u-timeline")["id"]

    collected: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        response = api.get(f"/api/v1/customers/{customer}/events", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        collected.extend(body["items"])
        pages += 1
        if pages == 1:  # something new arrives while the client pages: it must not shift later pages
            send_batch(tracker, track("u-timeline", "Late Arrival"))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    ids = [e["message_id"] for e in collected]
    assert len(ids) == len(set(ids)) == 23
    assert set(ids) == {m["messageId"] for m in messages}
    keys = [(when(e["timestamp"]), e["id"]) for e in collected]
    assert keys == sorted(keys, reverse=True)
    assert (collected[0]["name"], collected[-1]["name"]) == ("E22", "E0")
    assert when(collected[-1]["timestamp"]) == base


# -- errors ------------------------------------------------------------------------------------------


def test_unknown_customer_is_404(api: httpx.Client) -> None:
    for path in ("/api/v1/customers/987654", "/api/v1/customers/987654/events"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["field"] == "customer_id"
        assert "987654" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/customers", {"identity": "phone13912345678"}, "identity"),
        ("/api/v1/customers", {"identity": "phone:"}, "identity"),
        ("/api/v1/customers", {"identity": "phone:not-a-number"}, "identity"),
        ("/api/v1/customers", {"identity": "email:not-an-email"}, "identity"),
        ("/api/v1/customers", {"identity": "Bad Type!:x"}, "identity"),
        ("/api/v1/customers", {"trait": "plan"}, "trait"),
        ("/api/v1/customers", {"cursor": "-1"}, "cursor"),
        ("/api/v1/customers", {"cursor": "abc"}, "cursor"),
        ("/api/v1/customers", {"limit": "0"}, "limit"),
        ("/api/v1/customers", {"limit": "501"}, "limit"),
        ("/api/v1/customers", {"limit": "ten"}, "limit"),
        ("/api/v1/customers/abc", {}, "customer_id"),
        ("/api/v1/customers/{id}/events", {"cursor": "garbage"}, "cursor"),
        ("/api/v1/customers/{id}/events", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ("/api/v1/customers/{id}/events", {"limit": "0"}, "limit"),
        ("/api/v1/customers/{id}/events", {"limit": "1000"}, "limit"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    tracker: httpx.Client, api: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    _new_customer(tracker, "u-err")
    path = path.replace("{id}", str(customer_by(api, "user_id:u-err")["id"]))
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field
    assert body["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sy_not-a-token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic Zm9vOg=="},
    ],
)
def test_read_api_needs_a_valid_token(
    live_server: LiveServer, write_key: str, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/api/v1/customers"),
        ("GET", "/api/v1/customers/1"),
        ("GET", "/api/v1/customers/1/events"),
        ("POST", "/api/v1/customers/1/merge"),
        ("POST", "/api/v1/merges/1/undo"),
    ):
        response = httpx.request(
            method, live_server.url + path, headers=headers, json={"merged_id": 2, "reason": "x"}
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["field"] == "authorization"
        assert "token" in response.json()["error"]


def test_write_key_is_not_an_api_token(live_server: LiveServer, write_key: str) -> None:
    response = httpx.get(
        f"{live_server.url}/api/v1/customers", headers={"Authorization": f"Bearer {write_key}"}
    )
    assert response.status_code == 401


# -- masking -----------------------------------------------------------------------------------------


def test_admin_sees_personal_data_in_full(tracker: httpx.Client, api: httpx.Client) -> None:
    _person(tracker)
    profile = customer_by(api, f"phone:{PHONE}")
    events = {e["type"] + (e["name"] or ""): e for e in all_events(api, profile["id"])}
    assert events["trackForm Submitted"]["properties"] == {"phone": PHONE, "email": EMAIL, "form": "trial"}
    identifies = [e for e in all_events(api, profile["id"]) if e["type"] == "identify"]
    shown = [e["properties"] for e in identifies] + [e["context"].get("traits") for e in identifies]
    assert {"phone": PHONE, "email": EMAIL, "name": NAME, "address": ADDRESS, "plan": "gold"} in shown
    assert {"phone": PHONE, "name": NAME} in shown


def test_viewer_sees_masks_everywhere(tracker: httpx.Client, api: httpx.Client, viewer: httpx.Client) -> None:
    _person(tracker)
    customer_id = customer_by(api, "user_id:u-lina")["id"]

    search = viewer.get("/api/v1/customers", params={"identity": f"phone:{PHONE}"})
    assert search.status_code == 200
    (profile,) = search.json()["items"]
    assert profile["id"] == customer_id
    assert viewer.get(f"/api/v1/customers/{customer_id}").json() == profile

    identities = {i["type"]: i["value"] for i in profile["identities"]}
    assert identities == {"user_id": "u-lina", "phone": "139****5678", "email": "l***@example.com"}
    assert profile["traits"] == {
        "phone": "139****5678",
        "email": "L***@Example.com",
        "name": "李*",
        "address": "上******",
        "plan": "gold",
        "tier": "vip",
    }

    events = all_events(viewer, customer_id)
    tracked = next(e for e in events if e["type"] == "track")
    assert tracked["properties"] == {"phone": "139****5678", "email": "L***@Example.com", "form": "trial"}
    identifies = [e for e in events if e["type"] == "identify"]
    first = next(e for e in identifies if "plan" in e["properties"])
    assert first["properties"] == {
        "phone": "139****5678",
        "email": "L***@Example.com",
        "name": "李*",
        "address": "上******",
        "plan": "gold",
    }
    second = next(e for e in identifies if "tier" in e["properties"])
    assert second["context"]["traits"] == {"phone": "139****5678", "name": "李*"}

    everything = json.dumps([profile, events], ensure_ascii=False)
    for plain in (PHONE, "+86" + PHONE, EMAIL, EMAIL.lower(), NAME, ADDRESS):
        assert plain not in everything


# -- merges ------------------------------------------------------------------------------------------


def _two_customers(tracker: httpx.Client, api: httpx.Client) -> tuple[int, int]:
    send_batch(
        tracker,
        identify("u-m1", {"phone": PHONE, "plan": "gold"}),
        track("u-m1", "Visited Store"),
        identify("u-m2", {"email": EMAIL, "city": "Shanghai"}),
        track("u-m2", "Order Completed", {"order_id": "m-o1", "total": 50}),
    )
    a, b = customer_by(api, "user_id:u-m1")["id"], customer_by(api, "user_id:u-m2")["id"]
    assert a != b
    return a, b


def test_merge_and_undo_through_the_api(tracker: httpx.Client, api: httpx.Client) -> None:
    a, b = _two_customers(tracker, api)
    before_a, before_b = api.get(f"/api/v1/customers/{a}").json(), api.get(f"/api/v1/customers/{b}").json()
    events_b = {e["message_id"] for e in all_events(api, b)}

    response = api.post(
        f"/api/v1/customers/{a}/merge", json={"merged_id": b, "reason": "same person (call centre)"}
    )
    assert response.status_code == 200, response.text
    merge = response.json()
    assert (merge["survivor_id"], merge["merged_id"]) == (a, b)

    merged_view = api.get(f"/api/v1/customers/{b}").json()
    assert (merged_view["id"], merged_view["requested_id"], merged_view["merged"]) == (a, b, True)
    survivor = api.get(f"/api/v1/customers/{a}").json()
    assert {(i["type"], i["value"]) for i in survivor["identities"]} == {
        (i["type"], i["value"]) for i in before_a["identities"] + before_b["identities"]
    }
    assert survivor["traits"] == {**before_a["traits"], **before_b["traits"]}
    assert survivor["stats"]["events_count"] == 4
    assert (survivor["stats"]["orders_count"], survivor["stats"]["total_spent"]) == (1, "50.00")
    (lineage,) = survivor["merges"]
    assert lineage["id"] == merge["id"]
    assert (lineage["survivor_id"], lineage["merged_id"]) == (a, b)
    assert lineage["reason"] == "same person (call centre)"
    assert lineage["actor"].startswith("admin-")
    assert lineage["created_at"] and lineage["undone_at"] is None
    assert merged_view["merges"] == survivor["merges"]

    assert customer_by(api, "user_id:u-m2")["id"] == a
    assert customer_by(api, f"email:{EMAIL}")["id"] == a
    listed = [c["id"] for c in api.get("/api/v1/customers").json()["items"]]
    assert listed == [a]
    assert events_b <= {e["message_id"] for e in all_events(api, a)}
    assert all_events(api, b) == all_events(api, a)

    # While merged, u-m2's new events go to the survivor.
    send_batch(tracker, track("u-m2", "While Merged"))
    assert api.get(f"/api/v1/customers/{a}").json()["stats"]["events_count"] == 5

    response = api.post(f"/api/v1/merges/{merge['id']}/undo", json={"reason": "different people"})
    assert response.status_code == 200, response.text
    undone = response.json()
    assert undone["id"] == merge["id"] and undone["undone_at"]

    after_a, after_b = api.get(f"/api/v1/customers/{a}").json(), api.get(f"/api/v1/customers/{b}").json()
    assert (after_b["id"], after_b["merged"]) == (b, False)
    assert after_a["identities"] == before_a["identities"]
    assert after_b["identities"] == before_b["identities"]
    assert after_a["traits"] == before_a["traits"]
    assert after_b["traits"] == before_b["traits"]
    assert after_b["stats"]["orders_count"] == 1
    assert after_a["stats"]["orders_count"] == 0
    assert after_a["stats"]["events_count"] + after_b["stats"]["events_count"] == 5
    (record,) = after_b["merges"]
    assert record["undone_at"] and record["undone_by"].startswith("admin-")
    assert after_a["merges"] == after_b["merges"]
    assert customer_by(api, "user_id:u-m2")["id"] == b
    assert sorted(c["id"] for c in api.get("/api/v1/customers").json()["items"]) == sorted([a, b])

    send_batch(tracker, track("u-m2", "After Undo"))
    assert (
        api.get(f"/api/v1/customers/{b}").json()["stats"]["events_count"]
        == after_b["stats"]["events_count"] + 1
    )


def test_merge_errors(tracker: httpx.Client, api: httpx.Client) -> None:
    a, b = _two_customers(tracker, api)
    cases = [
        (f"/api/v1/customers/{a}/merge", {"merged_id": a, "reason": "x"}, 409, "merged_id"),
        (f"/api/v1/customers/{a}/merge", {"merged_id": 987654, "reason": "x"}, 404, "customer_id"),
        ("/api/v1/customers/987654/merge", {"merged_id": a, "reason": "x"}, 404, "customer_id"),
        (f"/api/v1/customers/{a}/merge", {"merged_id": b}, 400, "reason"),
        (f"/api/v1/customers/{a}/merge", {"merged_id": b, "reason": ""}, 400, "reason"),
        (f"/api/v1/customers/{a}/merge", {"merged_id": "b", "reason": "x"}, 400, "merged_id"),
        ("/api/v1/merges/987654/undo", {}, 404, "merge_id"),
    ]
    for path, body, status, field in cases:
        response = api.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["field"] == field, (path, body, response.text)

    merge = api.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b, "reason": "dup"}).json()
    again = api.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b, "reason": "dup"})
    assert again.status_code == 409
    assert api.post(f"/api/v1/merges/{merge['id']}/undo", json={}).status_code == 200
    twice = api.post(f"/api/v1/merges/{merge['id']}/undo", json={})
    assert twice.status_code == 409
    assert twice.json()["field"] == "merge_id"


def test_viewer_cannot_merge_or_undo(tracker: httpx.Client, api: httpx.Client, viewer: httpx.Client) -> None:
    a, b = _two_customers(tracker, api)
    refused = viewer.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b, "reason": "try"})
    assert refused.status_code == 403
    assert "write" in refused.json()["error"]
    assert api.get(f"/api/v1/customers/{b}").json()["merged"] is False

    merge = api.post(f"/api/v1/customers/{a}/merge", json={"merged_id": b, "reason": "ok"}).json()
    refused = viewer.post(f"/api/v1/merges/{merge['id']}/undo", json={})
    assert refused.status_code == 403
    assert api.get(f"/api/v1/customers/{b}").json()["merged"] is True


# -- service endpoints -------------------------------------------------------------------------------


def test_openapi_lists_the_public_paths(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for kind in ("batch", "track", "identify", "page", "screen", "group", "alias"):
        assert "post" in paths[f"/v1/{kind}"]
    assert "get" in paths["/api/v1/customers"]
    assert "get" in paths["/api/v1/customers/{customer_id}"]
    assert "get" in paths["/api/v1/customers/{customer_id}/events"]
    assert "post" in paths["/api/v1/customers/{customer_id}/merge"]
    assert "post" in paths["/api/v1/merges/{merge_id}/undo"]
    params = {p["name"] for p in paths["/api/v1/customers"]["get"]["parameters"]}
    assert {"identity", "trait", "cursor", "limit"} <= params


def test_healthz(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
