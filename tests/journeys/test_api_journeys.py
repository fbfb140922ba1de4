"""The journeys API over real HTTP (`siyu serve` app on a free port): create with field-named errors,
versions (running customers stay on theirs), activate / pause, manual starts, playbooks, stats, tasks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .runner_world import World, shanghai


def definition(template: str = "first", wait_days: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "name": "两步关怀", "triggers": [{"type": "manual"}], "start": "hello",
        "nodes": [
            {"type": "send", "id": "hello", "channel": "memory", "template_id": "first", "purpose": "service",
             "next": "wait"},
            {"type": "wait", "id": "wait", "delay": {"type": "duration", "days": wait_days}, "next": "again"},
            {"type": "send", "id": "again", "channel": "memory", "template_id": template,
             "purpose": "service", "next": "done"},
            {"type": "exit", "id": "done"},
        ],
        **extra,
    }  # fmt: skip


@pytest.fixture
def world(db_url: str, frozen_clock: Any) -> World:
    frozen_clock.current = shanghai(2026, 11, 2, 10)
    w = World(db_url, frozen_clock)
    w.template("first", "memory", "第一条")
    w.template("second_v1", "memory", "第二条(版本一)")
    w.template("second_v2", "memory", "第二条(版本二)")
    return w


def test_create_validates_and_names_the_field(api: httpx.Client, world: World) -> None:
    bad = definition()
    bad["nodes"][1]["next"] = "nowhere"
    r = api.post("/api/v1/journeys", json={"definition": bad})
    assert r.status_code == 400 and r.json()["field"] == "nodes[1].next"
    r = api.post("/api/v1/journeys", json={"definition": {"name": "x"}})
    assert r.status_code == 400
    r = api.post("/api/v1/journeys", json={"definition": definition()})
    assert r.status_code == 201
    body = r.json()
    assert (body["status"], body["current_version"], [v["version"] for v in body["versions"]]) == (
        "draft",
        1,
        [1],
    )
    assert body["definition"]["nodes"][0]["template_id"] == "first"
    assert [j["id"] for j in api.get("/api/v1/journeys").json()] == [body["id"]]
    assert api.get("/api/v1/journeys/999").status_code == 404


def test_versions_keep_running_customers_on_theirs(api: httpx.Client, world: World) -> None:
    w = world
    a, b = w.identify("a"), w.identify("b")
    jid = api.post("/api/v1/journeys", json={"definition": definition("second_v1")}).json()["id"]
    r = api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [a]})
    assert r.status_code == 409  # still a draft
    assert api.post(f"/api/v1/journeys/{jid}/activate").json()["status"] == "active"
    assert (
        api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [a], "key": "k1"}).json()["entered"]
        == 1
    )
    again = api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [a], "key": "k1"}).json()
    assert (again["entered"], again["skipped"]) == (0, 1)  # the same key starts a customer once
    r = api.put(f"/api/v1/journeys/{jid}", json={"definition": definition("second_v2")})
    assert r.status_code == 200 and r.json()["current_version"] == 2
    assert api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [b]}).json()["entered"] == 1
    w.drive()
    w.advance(days=1, minutes=1)
    bodies = {m.body for m in w.delivered() if m.body.startswith("第二条")}
    assert bodies == {"第二条(版本一)", "第二条(版本二)"}
    assert (
        api.get(f"/api/v1/journeys/{jid}/versions/1").json()["definition"]["nodes"][2]["template_id"]
        == "second_v1"
    )
    detail = api.get(f"/api/v1/journeys/{jid}").json()
    assert detail["stats"]["runs"] == {"exited": 2}
    assert detail["stats"]["versions"]["1"]["again"]["all"] == {"entered": 1, "sent": 1}
    assert detail["stats"]["versions"]["2"]["journey"]["all"] == {"entered": 1}
    assert detail["stats"]["messages"] == {"sent": 4}


def test_pause_holds_timers_and_blocks_entries(api: httpx.Client, world: World) -> None:
    w = world
    a, b = w.identify("a"), w.identify("b")
    jid = api.post("/api/v1/journeys", json={"definition": definition("second_v1")}).json()["id"]
    api.post(f"/api/v1/journeys/{jid}/activate")
    api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [a]})
    w.drive()
    assert api.post(f"/api/v1/journeys/{jid}/pause").json()["status"] == "paused"
    assert api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [b]}).status_code == 409
    w.advance(days=2)
    assert [m.body for m in w.delivered()] == ["第一条"]
    api.post(f"/api/v1/journeys/{jid}/activate")
    w.drive()
    assert [m.body for m in w.delivered()] == ["第一条", "第二条(版本一)"]
    assert api.post(f"/api/v1/journeys/{jid}/archive").json()["status"] == "archived"
    assert api.put(f"/api/v1/journeys/{jid}", json={"definition": definition()}).status_code == 409
    assert api.get("/api/v1/journeys").json() == []
    assert [j["id"] for j in api.get("/api/v1/journeys?include_archived=true").json()] == [jid]


def test_trigger_needs_a_manual_trigger_and_one_target(api: httpx.Client, world: World) -> None:
    event_only = definition(triggers=[{"type": "event", "event": "Signed Up"}])
    jid = api.post("/api/v1/journeys", json={"definition": event_only}).json()["id"]
    api.post(f"/api/v1/journeys/{jid}/activate")
    r = api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [1]})
    assert r.status_code == 400 and "manual trigger" in r.json()["error"]
    r = api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [1], "segment_id": 2})
    assert r.status_code == 400


def test_segment_trigger_is_queued_and_runs_in_batches(api: httpx.Client, world: World) -> None:
    from siyu.segments.tables import Segment, SegmentMember

    w = world
    ids = [w.identify(f"m{i}") for i in range(7)]
    with w.session() as s:
        s.add(Segment(id=3, name="测试分群", kind="static", version=1, created_at=w.now, updated_at=w.now,
                      created_by="test", member_count=7, transitions=0))  # fmt: skip
        s.flush()
        s.add_all([SegmentMember(segment_id=3, customer_id=c, entered_at=w.now) for c in ids])
    jid = api.post("/api/v1/journeys", json={"definition": definition()}).json()["id"]
    api.post(f"/api/v1/journeys/{jid}/activate")
    queued = api.post(f"/api/v1/journeys/{jid}/trigger", json={"segment_id": 3}).json()
    assert queued["queued"] is True
    w.drive()
    progress = api.get(f"/api/v1/journeys/{jid}/entries/{queued['bulk_id']}").json()
    assert (progress["status"], progress["entered"]) == ("done", 7)
    assert len(w.delivered()) == 7


def test_playbooks_list_and_clone(api: httpx.Client, world: World) -> None:
    listed = {p["key"]: p for p in api.get("/api/v1/journeys/playbooks").json()}
    assert {"welcome", "wake_up", "replenish", "browse_coupon", "birthday", "complaint"} <= set(listed)
    assert (
        "new_customer_tag_id" in listed["welcome"]["parameters"]
        and listed["welcome"]["name_zh"] == "新客欢迎"
    )
    r = api.post("/api/v1/journeys/playbooks/welcome/clone", json={"parameters": {}})
    assert r.status_code == 400 and r.json()["field"] == "parameters"
    tag = world.tag("新客")
    r = api.post(
        "/api/v1/journeys/playbooks/welcome/clone", json={"parameters": {"new_customer_tag_id": tag}}
    )
    assert r.status_code == 201
    body = r.json()
    assert (body["status"], body["playbook"]) == ("draft", "welcome")
    assert body["definition"]["nodes"][3]["tag_id"] == tag
    assert api.post("/api/v1/journeys/playbooks/nope/clone", json={}).status_code == 404


def test_tasks_list_and_complete(api: httpx.Client, viewer_token: str, world: World) -> None:
    w = world
    cid = w.identify("t1")
    staff = w.owner(cid)
    task_journey = {
        "name": "回访", "triggers": [{"type": "manual"}], "start": "call",
        "nodes": [{"type": "task", "id": "call", "title": "电话回访", "sla_hours": 4, "done": "ok",
                   "not_done_in_time": "late"},
                  {"type": "exit", "id": "ok", "reason": "called"}, {"type": "exit", "id": "late"}],
    }  # fmt: skip
    jid = api.post("/api/v1/journeys", json={"definition": task_journey}).json()["id"]
    api.post(f"/api/v1/journeys/{jid}/activate")
    api.post(f"/api/v1/journeys/{jid}/trigger", json={"customer_ids": [cid]})
    (task,) = api.get(f"/api/v1/tasks?staff_id={staff}&status=open").json()
    assert (task["title"], task["customer_id"], task["journey_id"]) == ("电话回访", cid, jid)
    viewer = httpx.Client(base_url=str(api.base_url), headers={"Authorization": f"Bearer {viewer_token}"})
    assert viewer.post(f"/api/v1/tasks/{task['id']}/complete").status_code == 403
    done = api.post(f"/api/v1/tasks/{task['id']}/complete").json()
    assert done["status"] == "done" and done["completed_by"].startswith("admin")
    w.drive()
    detail = api.get(f"/api/v1/journeys/{jid}").json()
    assert detail["stats"]["versions"]["1"]["ok"]["all"] == {"entered": 1, "exited": 1}
    assert api.get("/api/v1/tasks?status=nonsense").status_code == 400
