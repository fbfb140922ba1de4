"""The closed loop over real HTTP: tracked links redirect and record `Message Clicked`, the email pixel
records `Message Opened`, signed unsubscribe links (GET confirms, one-click POST per RFC 8058) stop
marketing on that channel; receipts and replies become events; templates and channels through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from siyu.consent.tables import Consent
from tests.journeys.runner_world import World, events, shanghai


@pytest.fixture
def world(db_url: str, frozen_clock: Any) -> World:
    frozen_clock.current = shanghai(2026, 11, 2, 10)
    return World(db_url, frozen_clock)


def email_journey(w: World, purpose: str = "marketing") -> int:
    return w.journey({
        "name": "邮件", "triggers": [{"type": "manual"}], "start": "mail",
        "nodes": [{"type": "send", "id": "mail", "channel": "email", "template_id": "mail",
                   "purpose": purpose, "next": "done"}, {"type": "exit", "id": "done"}],
        "reentry": {"type": "always"},
    })  # fmt: skip


def send_mail(w: World, api: httpx.Client, user: str = "reader") -> tuple[int, int, Any]:
    cid = w.identify(user, email=f"{user}@example.com", name="小明")
    r = api.post("/api/v1/templates", json={
        "id": "mail", "channel": "email", "subject": "{{ customer.name }},新品上市",
        "body": "看看新品 https://shop.example/new?utm=mail",
        "html_body": '<html><body><a href="https://shop.example/new?utm=mail">新品</a></body></html>',
    })  # fmt: skip
    assert r.status_code in (200, 201), r.text
    jid = email_journey(w)
    w.trigger(jid, [cid], key=user)
    w.drive()
    return cid, jid, w.delivered("email")[-1]


def test_tracked_link_redirects_and_records_each_click(api: httpx.Client, world: World) -> None:
    cid, jid, mail = send_mail(world, api)
    assert mail.recipient == "reader@example.com" and mail.subject == "小明,新品上市"
    link = mail.body.split()[-1]
    assert link.startswith("http://127.0.0.1:8000/t/") and "shop.example" not in mail.html_body
    path = link.removeprefix("http://127.0.0.1:8000")
    for _ in range(2):
        r = api.get(path, follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "https://shop.example/new?utm=mail"
    clicks = list(events(world, "Message Clicked", cid))
    assert len(clicks) == 2
    assert clicks[0]["message_id"] == world.outbox()[0].key and clicks[0]["journey_id"] == str(jid)
    assert (clicks[0]["node_id"], clicks[0]["channel"], clicks[0]["url"]) == (
        "mail",
        "email",
        "https://shop.example/new?utm=mail",
    )
    assert api.get("/t/aaaaaaaaaaaa", follow_redirects=False).status_code == 404


def test_open_pixel_records_the_first_open(api: httpx.Client, world: World) -> None:
    cid, _jid, mail = send_mail(world, api)
    pixel = mail.html_body.split('<img src="http://127.0.0.1:8000')[1].split('"')[0]
    assert mail.html_body.index("<img") < mail.html_body.index("</body>")
    for _ in range(2):
        r = api.get(pixel)
        assert (
            r.status_code == 200
            and r.headers["content-type"] == "image/gif"
            and r.content.startswith(b"GIF89a")
        )
    (opened,) = events(world, "Message Opened", cid)
    assert opened["message_id"] == world.outbox()[0].key and opened["channel"] == "email"


def test_unsubscribe_link_get_confirms_post_unsubscribes(api: httpx.Client, world: World) -> None:
    w = world
    cid, jid, mail = send_mail(w, api)
    assert mail.unsubscribe_url and mail.unsubscribe_url.startswith("http://127.0.0.1:8000/u/")
    path = mail.unsubscribe_url.removeprefix("http://127.0.0.1:8000")
    page = api.get(path)
    assert page.status_code == 200 and "<form method=post>" in page.text
    with w.session() as s:
        assert s.get(Consent, (cid, "email", "marketing")) is None  # a GET alone changes nothing
    tampered = path[:-1] + ("a" if path[-1] != "a" else "b")
    assert api.post(tampered, content=b"List-Unsubscribe=One-Click").status_code == 400
    r = api.post(path, content=b"List-Unsubscribe=One-Click",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200 and "已退订" in r.text
    with w.session() as s:
        consent = s.get(Consent, (cid, "email", "marketing"))
        assert consent is not None and consent.status == "unsubscribed"
    (unsub,) = events(w, "Unsubscribed", cid)
    assert (unsub["channel"], unsub["journey_id"], unsub["message_id"]) == (
        "email",
        str(jid),
        w.outbox()[0].key,
    )
    w.trigger(jid, [cid], key="again")
    w.drive()
    assert len(w.delivered("email")) == 1
    assert [o.reason_code for o in w.outbox(status="dropped")] == ["unsubscribed"]
    assert api.post(path, content=b"List-Unsubscribe=One-Click").status_code == 200  # idempotent


def test_receipts_and_replies_become_events(api: httpx.Client, world: World) -> None:
    cid, jid, _mail = send_mail(world, api)
    key = world.outbox()[0].key
    for outcome, extra in (
        ("delivered", {}),
        ("replied", {"reply_id": "r1"}),
        ("replied", {"reply_id": "r2"}),
    ):
        r = api.post(
            "/api/v1/messages/outcomes", json={"message_key": key, "outcome": outcome, "properties": extra}
        )
        assert r.status_code == 200
    api.post("/api/v1/messages/outcomes", json={"message_key": key, "outcome": "delivered"})
    assert len(list(events(world, "Message Delivered", cid))) == 1
    replies = list(events(world, "Message Replied", cid))
    assert [e["reply_id"] for e in replies] == ["r1", "r2"] and replies[0]["journey_id"] == str(jid)
    r = api.post("/api/v1/messages/outcomes", json={"message_key": "nope", "outcome": "delivered"})
    assert r.status_code == 404
    r = api.post("/api/v1/messages/outcomes", json={"message_key": key, "outcome": "exploded"})
    assert r.status_code == 400 and r.json()["field"] == "outcome"
    listed = api.get(f"/api/v1/messages?customer_id={cid}").json()
    assert [(m["key"], m["status"], m["reason_code"]) for m in listed] == [(key, "sent", "allowed")]


def test_templates_are_checked_at_save_time(api: httpx.Client, world: World) -> None:
    cid = world.identify("p1", name="王五", skin_type="干性")
    r = api.post(
        "/api/v1/templates", json={"id": "t1", "channel": "wecom", "body": "{{ customer.traits.skin_tpe }}"}
    )
    assert r.status_code == 400 and r.json()["field"] == "body" and "skin_type" in r.json()["error"]
    r = api.post("/api/v1/templates", json={"id": "t2", "channel": "sms_aliyun", "body": "验证码"})
    assert r.status_code == 400 and r.json()["field"] == "provider_template"
    body = {"channel": "wecom", "body": "{{ customer.name }}:适合{{ customer.traits.skin_type }}肌肤"}
    assert api.put("/api/v1/templates/t1", json=body).json()["version"] == 1
    saved = api.put("/api/v1/templates/t1", json=body).json()
    assert saved["version"] == 2 and "customer.traits.skin_type" in saved["variables"]
    preview = api.post("/api/v1/templates/t1/preview", json={"customer_id": cid}).json()
    assert preview["body"] == "王五:适合干性肌肤" and preview["length_en"].startswith("wecom:")
    assert api.post("/api/v1/templates/t1/preview", json={"customer_id": 99999}).status_code == 404


def test_channels_list_and_pause(api: httpx.Client, viewer_token: str, world: World) -> None:
    w = world
    channels = {c["name"]: c for c in api.get("/api/v1/channels").json()}
    assert channels["memory"]["configured"] and channels["memory"]["enabled"]
    assert channels["wecom"]["effective_mass_quota"] == 1
    viewer = httpx.Client(base_url=str(api.base_url), headers={"Authorization": f"Bearer {viewer_token}"})
    assert viewer.put("/api/v1/channels/memory", json={"enabled": False}).status_code == 403
    assert api.put("/api/v1/channels/nope", json={"enabled": False}).status_code == 404
    r = api.put("/api/v1/channels/memory", json={"enabled": False, "per_customer_daily": 3})
    assert r.status_code == 200 and (r.json()["enabled"], r.json()["effective_daily_quota"]) == (False, 3)
    w.template("note", "memory", "你好")
    cid = w.identify("c1")
    jid = w.journey({"name": "服务", "triggers": [{"type": "manual"}], "start": "s", "nodes": [
        {"type": "send", "id": "s", "channel": "memory", "template_id": "note", "purpose": "service",
         "next": "x"}, {"type": "exit", "id": "x"}]})  # fmt: skip
    w.trigger(jid, [cid])
    w.drive()
    (row,) = w.outbox()
    assert (row.status, row.reason_code) == ("deferred", "channel_paused")
    api.put("/api/v1/channels/memory", json={"enabled": True})
    w.advance(minutes=11)
    assert [m.body for m in w.delivered()] == ["你好"]
