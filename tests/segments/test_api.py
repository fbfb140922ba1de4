"""The segment API over real HTTP: create, list, read, new versions, members, preview, explain, exports
(personal data by role), static uploads, rebuild, and errors that name the field."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

VIEWS = {"type": "event_count", "event": "Product Viewed", "window": {"last_days": 7}, "value": 2}
GOLD = {"type": "trait", "name": "plan", "op": "eq", "value": "gold"}


def _people(tracker: httpx.Client) -> None:
    batch = [
        {
            "type": "identify",
            "userId": "lina",
            "traits": {"plan": "gold", "phone": "13912345678", "email": "Lina@Example.com", "city": "上海"},
        },
        {"type": "identify", "userId": "wei", "traits": {"plan": "silver", "phone": "13800000000"}},
        {"type": "track", "userId": "lina", "event": "Product Viewed", "properties": {"category": "精华"}},
        {"type": "track", "userId": "lina", "event": "Product Viewed", "properties": {"category": "精华"}},
        {"type": "track", "userId": "wei", "event": "Product Viewed", "properties": {"category": "面霜"}},
    ]
    assert tracker.post("/v1/batch", json={"batch": batch}).status_code == 200


def _id(api: httpx.Client, user: str) -> int:
    found = api.get("/api/v1/customers", params={"identity": f"user_id:{user}"}).json()["items"]
    return int(found[0]["id"])


def _create(api: httpx.Client, name: str, root: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/api/v1/segments", json={"name": name, "definition": {"version": 1, "root": root}, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_update_and_members(tracker: httpx.Client, api: httpx.Client) -> None:
    _people(tracker)
    lina = _id(api, "lina")
    created = _create(api, "浏览2次", VIEWS, description="两次以上浏览")
    assert created["member_count"] == 1 and created["version"] == 1 and created["last_rebuilt_at"]
    sid = created["id"]
    assert [s["id"] for s in api.get("/api/v1/segments").json()["items"]] == [sid]
    got = api.get(f"/api/v1/segments/{sid}").json()
    assert got["definition"]["root"]["event"] == "Product Viewed" and got["kind"] == "dynamic"
    page = api.get(f"/api/v1/segments/{sid}/members").json()
    assert [m["customer_id"] for m in page["items"]] == [lina] and page["next_cursor"] is None
    updated = api.put(
        f"/api/v1/segments/{sid}", json={"definition": {"version": 1, "root": {**VIEWS, "value": 1}}}
    )
    assert (
        updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["member_count"] == 2
    )
    versions = api.get(f"/api/v1/segments/{sid}/versions").json()["items"]
    assert [v["definition"]["root"]["value"] for v in versions] == [2, 1]
    first = api.get(f"/api/v1/segments/{sid}/members", params={"limit": 1}).json()
    rest = api.get(f"/api/v1/segments/{sid}/members", params={"cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 1 and len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_errors_name_the_field(tracker: httpx.Client, api: httpx.Client, viewer_token: str) -> None:
    bad = {
        "version": 1,
        "root": {
            "type": "and",
            "children": [GOLD, {"type": "order", "metric": "count", "op": "gte", "value": 1.5}],
        },
    }
    response = api.post("/api/v1/segments", json={"name": "x", "definition": bad})
    assert response.status_code == 400
    assert response.json()["field"] == "definition.root.children.1.value"
    assert api.post("/api/v1/segments", json={"name": "", "definition": bad}).json()["field"] == "name"
    assert api.get("/api/v1/segments/999").status_code == 404
    _create(api, "dup", GOLD)
    assert (
        api.post(
            "/api/v1/segments", json={"name": "dup", "definition": {"version": 1, "root": GOLD}}
        ).status_code
        == 409
    )
    as_viewer = {"Authorization": f"Bearer {viewer_token}"}
    denied = httpx.post(
        f"{api.base_url}/api/v1/segments",
        json={"name": "v", "definition": {"version": 1, "root": GOLD}},
        headers=as_viewer,
    )
    assert denied.status_code == 403
    assert httpx.get(f"{api.base_url}/api/v1/segments", headers=as_viewer).status_code == 200


def test_preview_and_condition_catalogue(tracker: httpx.Client, api: httpx.Client) -> None:
    _people(tracker)
    draft = {"version": 1, "root": {"type": "or", "children": [GOLD, VIEWS]}}
    result = api.post("/api/v1/segments/preview", json={"definition": draft}).json()
    assert result["count"] == 1 and result["sample"] == [_id(api, "lina")] and result["took_ms"] >= 0
    assert api.get("/api/v1/segments").json()["items"] == []  # nothing saved
    catalogue = api.get("/api/v1/segments/conditions").json()
    labels = {t["type"]: t["label_zh"] for t in catalogue["types"]}
    assert labels["event_count"] == "行为次数" and "oneOf" in str(catalogue["schema"])


def test_memberships_and_explain(tracker: httpx.Client, api: httpx.Client) -> None:
    _people(tracker)
    lina, wei = _id(api, "lina"), _id(api, "wei")
    sid = _create(api, "gold viewers", {"type": "and", "children": [GOLD, VIEWS]})["id"]
    mine = api.get(f"/api/v1/customers/{lina}/segments", params={"segment_id": sid}).json()
    assert [s["id"] for s in mine["segments"]] == [sid]
    tree = mine["explain"]["tree"]
    assert mine["explain"]["member"] is True and tree["result"] is True
    assert tree["children"][0]["seen"]["value"] == "gold"
    assert tree["children"][1]["seen"]["count"] == 2
    theirs = api.get(f"/api/v1/customers/{wei}/segments", params={"segment_id": sid}).json()
    assert theirs["segments"] == [] and theirs["explain"]["member"] is False
    children = theirs["explain"]["tree"]["children"]
    assert [c["result"] for c in children] == [False, False]
    assert children[0]["seen"]["value"] == "silver" and children[1]["seen"]["count"] == 1
    assert api.get("/api/v1/customers/99999/segments").status_code == 404


def test_exports_by_role(tracker: httpx.Client, api: httpx.Client, viewer_token: str) -> None:
    _people(tracker)
    sid = _create(api, "everyone", {"type": "identity", "identity_type": "phone"})["id"]
    csv = api.get(
        f"/api/v1/segments/{sid}/export", params={"fields": "id,phone,email,trait:city,total_spent"}
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "id,phone,email,trait:city,total_spent"
    assert f"{_id(api, 'lina')},+8613912345678,lina@example.com,上海,0.00" in lines
    viewer = {"Authorization": f"Bearer {viewer_token}"}
    masked = httpx.get(
        f"{api.base_url}/api/v1/segments/{sid}/export", params={"fields": "id,phone"}, headers=viewer
    ).text
    assert "+8613912345678" not in masked and "139****5678" in masked
    hashed = api.get(f"/api/v1/segments/{sid}/export", params={"hashed": "phone"}).text.split()
    assert sorted(hashed) == sorted(
        hashlib.sha256(p.encode()).hexdigest() for p in ("+8613912345678", "+8613800000000")
    )
    emails = api.get(f"/api/v1/segments/{sid}/export", params={"hashed": "email"}).text.split()
    assert emails == [hashlib.sha256(b"lina@example.com").hexdigest()]
    assert (
        httpx.get(
            f"{api.base_url}/api/v1/segments/{sid}/export", params={"hashed": "phone"}, headers=viewer
        ).status_code
        == 403
    )
    assert (
        api.get(f"/api/v1/segments/{sid}/export", params={"fields": "id,no such"}).json()["field"] == "fields"
    )


def test_static_upload_and_rebuild(tracker: httpx.Client, api: httpx.Client) -> None:
    _people(tracker)
    lina, wei = _id(api, "lina"), _id(api, "wei")
    static = api.post("/api/v1/segments", json={"name": "名单", "kind": "static"}).json()
    result = api.post(
        f"/api/v1/segments/{static['id']}/members",
        json={"entries": [lina, "phone:13800000000", "phone:13700000000", 424242]},
    ).json()
    assert result["entered"] == 2 and result["member_count"] == 2
    assert [r["line"] for r in result["rejected"]] == [3, 4]
    removed = api.post(
        f"/api/v1/segments/{static['id']}/members", json={"mode": "remove", "entries": [str(wei)]}
    ).json()
    assert removed["exited"] == 1 and removed["member_count"] == 1
    assert api.post(f"/api/v1/segments/{static['id']}/rebuild").status_code == 409
    dynamic = _create(api, "gold", GOLD)["id"]
    rebuilt = api.post(f"/api/v1/segments/{dynamic}/rebuild").json()
    assert rebuilt == {"entered": 0, "exited": 0, "member_count": 1}


def test_nul_characters_are_refused_by_name(api: httpx.Client) -> None:
    """PostgreSQL text cannot hold NUL: every place it could arrive says so instead of failing."""
    bad = {"version": 1, "root": {"type": "trait", "name": "plan", "op": "eq", "value": "go\u0000ld"}}
    assert (
        api.post("/api/v1/segments", json={"name": "a\u0000b", "definition": bad}).json()["field"] == "name"
    )
    assert (
        api.post("/api/v1/segments", json={"name": "ok", "definition": bad}).json()["field"]
        == "definition.root.value"
    )
    assert api.post("/api/v1/segments/preview", json={"definition": bad}).status_code == 400
    static = api.post("/api/v1/segments", json={"name": "st", "kind": "static"}).json()
    upload = api.post(f"/api/v1/segments/{static['id']}/members", json={"entries": ["user_id:a\u0000b"]})
    assert upload.status_code == 400 and upload.json()["field"].startswith("entries.0")
    export = api.get(f"/api/v1/segments/{static['id']}/export", params={"fields": "id,trait:a\u0000"})
    assert export.status_code == 400 and export.json()["field"] == "fields"
