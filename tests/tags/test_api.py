"""The tag API over real HTTP: taxonomy CRUD and its errors, tagging by JSON and by uploaded list, by
segment, members and a customer's tags and history, timeline events, permissions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from siyu.core.database import unit_of_work
from siyu.segments.tables import Segment, SegmentMember
from tests.events.tracking import all_events, customer_by, identify, send_batch
from tests.fixtures.live_server import LiveServer

RULE = {"type": "order", "metric": "count", "op": "gte", "value": 3, "window": {"last_days": 90}}


@pytest.fixture
def viewer(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {viewer_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["error"], body
    return str(body["error"])


def test_taxonomy_crud(api: httpx.Client) -> None:
    refused(api.post("/api/v1/tag-groups", json={"name": " "}), 400, "name")
    refused(api.post("/api/v1/tag-groups", json={"name": "a", "category": "hobby"}), 400, "category")
    refused(api.post("/api/v1/tag-groups", json={"name": "a", "kind": "manual"}), 400, "kind")
    group = ok(api.post("/api/v1/tag-groups", json={"name": " 兴趣 ", "category": "interest"}), 201)
    assert (group["name"], group["category_label"], group["kind"], group["exclusive"]) == (
        "兴趣", "兴趣", "static", False,
    )  # fmt: skip
    refused(api.post("/api/v1/tag-groups", json={"name": "兴趣"}), 409, "name")
    rules = ok(
        api.post("/api/v1/tag-groups", json={"name": "频次", "category": "behavior", "kind": "rule"}), 201
    )

    tag = ok(api.post("/api/v1/tags", json={"group_id": group["id"], "name": "护肤"}), 201)
    refused(api.post("/api/v1/tags", json={"group_id": group["id"], "name": "护肤"}), 409, "name")
    refused(api.post("/api/v1/tags", json={"group_id": group["id"], "name": "x", "rule": RULE}), 400, "rule")
    refused(api.post("/api/v1/tags", json={"group_id": rules["id"], "name": "x"}), 400, "rule")
    bad_rule = {**RULE, "value": -1}
    refused(
        api.post("/api/v1/tags", json={"group_id": rules["id"], "name": "x", "rule": bad_rule}),
        400,
        "rule.value",
    )
    refused(api.post("/api/v1/tags", json={"group_id": 4040, "name": "x"}), 404, "group_id")
    high = ok(api.post("/api/v1/tags", json={"group_id": rules["id"], "name": "高频", "rule": RULE}), 201)
    assert (high["kind"], high["rule"], high["rule_version"], high["members"]) == ("rule", RULE, 1, 0)

    renamed = ok(api.patch(f"/api/v1/tags/{tag['id']}", json={"name": "护肤品", "description": "爱护肤"}))
    assert (renamed["name"], renamed["description"]) == ("护肤品", "爱护肤")
    refused(api.patch(f"/api/v1/tags/{tag['id']}", json={"group_id": 3}), 400, "group_id")
    ok(api.patch(f"/api/v1/tag-groups/{group['id']}", json={"exclusive": True}))
    refused(api.patch(f"/api/v1/tag-groups/{group['id']}", json={"kind": "rule"}), 400, "kind")
    refused(api.get("/api/v1/tags/999999"), 404, "tag_id")

    listed = ok(api.get("/api/v1/tags"))
    assert [(t["group"], t["name"], t["members"]) for t in listed] == [
        ("兴趣", "护肤品", 0),
        ("频次", "高频", 0),
    ]
    assert [t["name"] for t in ok(api.get("/api/v1/tags", params={"group_id": rules["id"]}))] == ["高频"]
    assert [g["tags_count"] for g in ok(api.get("/api/v1/tag-groups"))] == [1, 1]

    archived = ok(api.delete(f"/api/v1/tags/{tag['id']}"))
    assert archived["archived_at"] is not None
    assert [t["name"] for t in ok(api.get("/api/v1/tags"))] == ["高频"]
    assert ok(api.delete(f"/api/v1/tag-groups/{rules['id']}"))["archived_at"] is not None
    assert [(g["name"], g["tags_count"]) for g in ok(api.get("/api/v1/tag-groups"))] == [("兴趣", 0)]
    assert len(ok(api.get("/api/v1/tag-groups", params={"archived": "true"}))) == 2


def test_tagging_by_json_upload_and_segment(tracker: httpx.Client, api: httpx.Client) -> None:
    send_batch(
        tracker,
        identify("u-li", {"phone": "13912345678"}),
        identify("u-wang", {}),
        identify("u-zhao", {}),
    )
    li, wang, zhao = (customer_by(api, f"user_id:{u}")["id"] for u in ("u-li", "u-wang", "u-zhao"))
    group = ok(api.post("/api/v1/tag-groups", json={"name": "活动", "category": "behavior"}), 201)
    tag = ok(api.post("/api/v1/tags", json={"group_id": group["id"], "name": "双11"}), 201)
    url = f"/api/v1/tags/{tag['id']}/customers"

    body = {"add": [li, "user_id:u-wang", "phone:13900000000"], "reason": "活动报名"}
    result = ok(api.post(url, json=body))
    assert (result["added"], result["unchanged"]) == (2, 0)
    missing = {
        "list": "add",
        "line": 3,
        "value": "phone:13900000000",
        "reason": "no customer has this identity",
    }
    assert result["rejected"] == [missing]
    zero = api.post(url, json={"add": [0]})
    assert zero.status_code == 400 and zero.json()["field"].startswith("add.0"), zero.text
    refused(api.post(url, json={"add": [li], "remove": [li]}), 400, "remove")
    refused(api.post(url, json={"add": "x"}), 400, "add")
    refused(api.post(url, content=b"{", headers={"content-type": "application/json"}), 400, "body")

    upload = f"customer_id\n{zhao}\nidentity phone:13912345678\nnot-an-id\n".encode()
    headers = {"content-type": "text/csv"}
    added = ok(api.post(url, content=upload, headers=headers))
    assert (added["added"], added["unchanged"]) == (1, 1)
    assert [(r["line"], r["value"]) for r in added["rejected"]] == [(4, "not-an-id")]
    removed = ok(api.post(url, params={"action": "remove", "reason": "退出"}, content=f"{wang}\n".encode(),
                          headers=headers))  # fmt: skip
    assert removed["removed"] == 1

    page = ok(api.get(url, params={"limit": 1}))
    assert [i["customer_id"] for i in page["items"]] == [min(li, zhao)] and page["next_cursor"] == min(
        li, zhao
    )
    rest = ok(api.get(url, params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [i["customer_id"] for i in rest["items"]] == [max(li, zhao)] and rest["next_cursor"] is None
    assert rest["items"][0]["added_by"].startswith("user:admin-")

    mine = ok(api.get(f"/api/v1/customers/{wang}/tags"))
    assert mine["tags"] == []
    assert [(h["tag"], h["group"], h["action"], h["reason"]) for h in mine["history"]] == [
        ("双11", "活动", "removed", "退出"),
        ("双11", "活动", "added", "活动报名"),
    ]
    li_tags = ok(api.get(f"/api/v1/customers/{li}/tags"))["tags"]
    assert [(t["id"], t["name"], t["group"], t["category"]) for t in li_tags] == [
        (tag["id"], "双11", "活动", "behavior")
    ]
    assert ok(api.get(f"/api/v1/customers/{li}"))["tags"] == li_tags  # the profile shows them too
    names = [e["name"] for e in all_events(api, wang)]
    assert names.count("Tag Added") == 1 and names.count("Tag Removed") == 1
    refused(api.get("/api/v1/customers/999999/tags"), 404, "customer_id")

    at = datetime(2026, 11, 1, tzinfo=UTC)
    with unit_of_work() as s:
        segment = Segment(name="测试分群", kind="static", created_at=at, updated_at=at, created_by="t")
        s.add(segment)
        s.flush()
        s.add(SegmentMember(segment_id=segment.id, customer_id=wang, entered_at=at))
        segment_id = segment.id
    seg = ok(api.post(f"/api/v1/tags/{tag['id']}/apply-segment", json={"segment_id": segment_id}))
    assert seg["added"] == 1
    refused(api.post(f"/api/v1/tags/{tag['id']}/apply-segment", json={"segment_id": 4242}), 404, "segment_id")
    assert ok(api.get(f"/api/v1/tags/{tag['id']}"))["members"] == 3
    refused(api.delete(f"/api/v1/tags/{tag['id']}"), 409, "force")
    ok(api.delete(f"/api/v1/tags/{tag['id']}", params={"force": "true"}))
    assert ok(api.get(f"/api/v1/tags/{tag['id']}"))["members"] == 0


def test_reading_needs_read_and_changing_needs_write(
    api: httpx.Client, viewer: httpx.Client, live_server: LiveServer
) -> None:
    group = ok(api.post("/api/v1/tag-groups", json={"name": "g"}), 201)
    assert len(ok(viewer.get("/api/v1/tag-groups"))) == 1
    assert ok(viewer.get("/api/v1/tags")) == []
    assert viewer.post("/api/v1/tag-groups", json={"name": "h"}).status_code == 403
    assert viewer.post("/api/v1/tags", json={"group_id": group["id"], "name": "t"}).status_code == 403
    assert httpx.get(f"{live_server.url}/api/v1/tags").status_code == 401
