"""Each seed playbook end to end through the durable runner: real ingestion, the worker's jobs, the
governor, templates and memory channels, on a frozen clock moved forward hour by hour (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from siyu.customers.tables import Customer
from siyu.devtools.pg_server import free_port
from siyu.journeys import playbooks, service
from siyu.journeys.tables import JourneyRun
from siyu.rfm.tables import RfmScore
from siyu.tags.tables import CustomerTag

from .runner_world import World, events, shanghai

SMS = {"provider_template": "SMS_100001"}


def templates(w: World) -> None:
    w.template("welcome_coupon", "wecom", "{{ customer.name }}您好,送您新人券 {{ coupon.code }}")
    w.template("style_guide", "wecom", "本周穿搭指南 https://shop.example/guide")
    w.template("comeback_gift", "wecom", "好久不见,回归礼包 {{ coupon.code }}")
    w.template(
        "comeback_sms",
        "sms_aliyun",
        "{{ customer.owner.name }}为您准备了回归礼包",
        params={"advisor": "{{ customer.owner.name }}"},
        **SMS,
    )
    w.template("replenish_reminder", "wecom", "您的精华快用完了,记得补货")
    w.template("trial_kit_offer", "wecom", "新品试用装 {{ coupon.code }}")
    w.template("browse_coupon_10", "wecom", "10 元券 {{ coupon.code }}")
    w.template("browse_coupon_20", "wecom", "20 元券 {{ coupon.code }}")
    w.template("birthday_vip", "wecom", "生日快乐!VIP 礼 {{ coupon.code }}")
    w.template("birthday", "wecom", "生日快乐 {{ coupon.code }}")
    w.template("complaint_ack", "sms_aliyun", "已收到您的反馈,我们会尽快联系您", **SMS)
    w.template("complaint_survey", "sms_aliyun", "请为本次服务打分", **SMS)


@pytest.fixture
def world(db_url: str, frozen_clock: Any) -> World:
    frozen_clock.current = shanghai(2026, 11, 2, 15, 20)
    w = World(db_url, frozen_clock)
    templates(w)
    return w


def runs(w: World, journey_id: int) -> list[JourneyRun]:
    with w.session() as s:
        return list(
            s.scalars(select(JourneyRun).where(JourneyRun.journey_id == journey_id).order_by(JourneyRun.id))
        )


def has_tag(w: World, customer_id: int, tag_id: int) -> bool:
    with w.session() as s:
        return s.get(CustomerTag, (customer_id, tag_id)) is not None


def stats(w: World, journey_id: int) -> dict[str, Any]:
    with w.session() as s:
        return service.stats(s, journey_id)


def test_welcome_new_friend(world: World) -> None:
    w = world
    new_tag = w.tag("新客")
    jid = w.journey(playbooks.welcome_new_friend(new_customer_tag_id=new_tag))
    cid = w.identify("u1", wecom_external_userid="wmU1", name="韩梅梅")
    w.owner(cid)
    w.track("u1", "Contact Added", welcome_code="WC1")
    w.drive()
    (welcome,) = w.delivered("wecom")
    assert welcome.recipient == "wmU1" and welcome.params["welcome_code"] == "WC1"
    assert welcome.body.startswith("韩梅梅您好,送您新人券 WELCOME-")
    w.advance(hours=18)  # 09:20 the next day: the guide waits for 10:00
    assert len(w.delivered("wecom")) == 1
    w.advance(hours=1)
    guide = w.delivered("wecom")[1]
    assert guide.sender_userid == "zhangsan" and guide.body.startswith(
        "本周穿搭指南 http://127.0.0.1:8000/t/"
    )
    assert has_tag(w, cid, new_tag)
    (run,) = runs(w, jid)
    assert run.status == "awaiting_goal" and run.exit_reason == "welcomed"
    w.track("u1", "Order Completed", order_id="o1", total=199)
    w.drive()
    (run,) = runs(w, jid)
    assert run.status == "exited" and run.converted_at is not None
    assert [e["journey_id"] for e in events(w, "Journey Converted", cid)] == [str(jid)]
    counts = stats(w, jid)
    assert counts["arms"]["all"] == {"entered": 1, "sent": 2, "exited": 1, "converted": 1}
    # the same contact added again never re-enters (re-entry: never)
    w.track("u1", "Contact Added", welcome_code="WC2")
    w.drive()
    assert len(runs(w, jid)) == 1 and len(w.delivered("wecom")) == 2


def test_wake_up_silent_customers(world: World) -> None:
    w = world
    woken = w.tag("已唤醒")
    jid = w.journey(playbooks.wake_up_silent(silent_segment_id=5, woken_tag_id=woken))
    buyer = w.identify("buyer", wecom_external_userid="wmB", phone="13800000001")
    helped = w.identify("helped", wecom_external_userid="wmH", phone="13800000002")
    ignored = w.identify("ignored", wecom_external_userid="wmI", phone="13800000003")
    for cid in (buyer, helped, ignored):
        w.owner(cid)
        w.segment_entered(cid, 5)
    w.segment_entered(buyer, 6)  # another segment: no run
    w.drive()
    assert sorted(m.recipient for m in w.delivered("wecom")) == ["wmB", "wmH", "wmI"]
    w.advance(days=1)
    w.track("buyer", "Order Completed", order_id="b1", total=88)
    w.advance(days=2, hours=1)  # the 3-day watch ends for the other two: advisor tasks
    assert has_tag(w, buyer, woken)
    (task,) = w.tasks(helped)
    assert task.status == "open" and task.staff_id is not None
    w.complete_task(task.id)
    w.advance(days=1, hours=1)  # SLA of 24 h passes for the ignored customer: SMS fallback
    (sms,) = w.delivered("sms_aliyun")
    assert sms.recipient == "+8613800000003" and sms.template_id == "SMS_100001"
    assert sms.params == {"advisor": "张三"} and sms.body == "张三为您准备了回归礼包"
    assert [t.status for t in w.tasks(ignored)] == ["overdue"]
    reasons = {r.customer_id: r.exit_reason for r in runs(w, jid)}
    assert reasons == {buyer: "woken_up", helped: "followed_up", ignored: "sms_fallback"}


def test_replenish_reminder_from_a_date_trait(world: World) -> None:
    w = world
    jid = w.journey(playbooks.replenish_reminder())
    soon = w.identify("soon", wecom_external_userid="wmS", expected_replenish_date="2026-11-20")
    w.identify("later", wecom_external_userid="wmL", expected_replenish_date="2027-03-01")
    w.owner(soon)
    w.owner(w.customer("later"))
    assert w.scan_dates() == 0  # 2026-11-05 10:00 is beyond the 26-hour horizon
    w.advance(days=2)  # 2026-11-04 15:20
    assert w.scan_dates() == 1
    w.advance(hours=18)  # 09:20 on the fire day
    assert w.delivered("wecom") == []
    w.advance(hours=1)
    (remind,) = w.delivered("wecom")
    assert remind.recipient == "wmS" and remind.body == "您的精华快用完了,记得补货"
    assert w.outbox()[0].created_at == shanghai(2026, 11, 5, 10)
    w.advance(days=7)
    assert [m.body.split()[0] for m in w.delivered("wecom")] == ["您的精华快用完了,记得补货", "新品试用装"]
    assert [r.exit_reason for r in runs(w, jid)] == ["trial_offered"]


def test_browse_coupon_ab_split_with_holdout(world: World) -> None:
    w = world
    jid = w.journey(playbooks.browse_coupon(browsed_segment_id=9))
    ids = [w.identify(f"v{i}", wecom_external_userid=f"wmV{i}") for i in range(30)]
    for cid in ids:
        w.owner(cid)
    w.track("v0", "Order Completed", order_id="v0-1", total=50)  # bought recently: no coupon
    for cid in ids:
        w.segment_entered(cid, 9)
    w.drive()
    assert w.delivered("wecom") == []
    w.advance(minutes=31)
    entered = {e["customer_id"]: e["arm"] for e in events(w, "Journey Entered")}
    assert set(entered) == set(ids) and set(entered.values()) <= {"A", "B", "holdout"}
    sent = {m.recipient: m.body.split()[0] for m in w.delivered("wecom")}
    for i, cid in enumerate(ids):
        expected = None if i == 0 or entered[cid] == "holdout" else {"A": "10", "B": "20"}[entered[cid]]
        assert sent.get(f"wmV{i}") == expected
    arms = stats(w, jid)["arms"]
    for arm in ("A", "B"):
        assert arms[arm]["sent"] == sum(1 for i, c in enumerate(ids) if i and entered[c] == arm)
    assert "sent" not in arms.get("holdout", {})


def test_birthday_greeting_by_rfm_tier(world: World) -> None:
    w = world
    w.journey(playbooks.birthday_greeting())
    vip = w.identify("vip", wecom_external_userid="wmVIP", birthday="1990-11-03")
    fan = w.identify("fan", wecom_external_userid="wmFAN", birthday="1995-11-03")
    with w.session() as s:
        s.add(RfmScore(customer_id=vip, recency_days=3, frequency=9, monetary_minor=900_00, r=5, f=5, m=5,
                       tier="important_value", computed_at=w.now))  # fmt: skip
    for cid in (vip, fan):
        w.owner(cid)
    assert w.scan_dates() == 2
    w.advance(hours=20)  # 2026-11-03 11:20
    bodies = {m.recipient: m.body for m in w.delivered("wecom")}
    assert bodies["wmVIP"].startswith("生日快乐!VIP 礼 BIRTHDAY_VIP-")
    assert bodies["wmFAN"].startswith("生日快乐 BIRTHDAY-")


class Sink:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.posts.append((self.headers["Idempotency-Key"], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.server.shutdown()
    s.server.server_close()


def test_complaint_response_in_48_hours(world: World, sink: Sink) -> None:
    w = world
    w.clock.current = shanghai(2026, 11, 2, 22, 30)  # quiet hours: the urgent acknowledgement still goes
    mark = w.tag("投诉中")
    supervisor = w.owner(w.identify("boss", phone="13900000000"), userid="lisi", name="李四")
    jid = w.journey(playbooks.complaint_response(complaint_tag_id=mark, supervisor_staff_id=supervisor,
                                                 alert_url=sink.url))  # fmt: skip
    calm = w.identify("calm", phone="13800000011")
    angry = w.identify("angry", phone="13800000012")
    for cid in (calm, angry):
        w.owner(cid)
        w.track("calm" if cid == calm else "angry", "Complaint Filed", order_id="x")
    w.drive()
    assert sorted(m.recipient for m in w.delivered("sms_aliyun")) == ["+8613800000011", "+8613800000012"]
    assert has_tag(w, calm, mark) and has_tag(w, angry, mark)
    w.advance(hours=2, minutes=1)  # the owner did not call within 2 h: the supervisor's task
    escalated = [t for t in w.tasks(calm) if t.staff_id == supervisor]
    assert len(escalated) == 1 and [t.status for t in w.tasks(calm)] == ["overdue", "open"]
    w.complete_task(escalated[0].id)
    w.drive()
    w.track("calm", "Complaint Resolved", ticket="t1")
    w.advance(hours=1)
    assert not has_tag(w, calm, mark)
    w.advance(days=2)  # the survey waits a day, then quiet hours end
    surveys = [m for m in w.delivered("sms_aliyun") if m.body == "请为本次服务打分"]
    assert [m.recipient for m in surveys] == ["+8613800000011"]
    # nobody handled the angry customer: the SLA alert, then the unresolved alert, each posted once
    alerts = [body["data"]["alert"] for _key, body in sink.posts]
    assert alerts == ["complaint_sla_breached", "complaint_unresolved_48h"]
    assert all(body["customer_id"] == angry for _key, body in sink.posts)
    assert len({key for key, _ in sink.posts}) == 2
    reasons = {r.customer_id: r.exit_reason for r in runs(w, jid)}
    assert reasons == {calm: "resolved", angry: "unresolved"}
    with w.session() as s:
        assert s.get(Customer, calm) is not None
