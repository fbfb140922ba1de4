"""The outbox through the governor: five journeys aiming at one customer on one day deliver at most the
cap (the rest deferred, or dropped at their expiry, with reasons), a transactional message still goes,
an opted-out customer gets nothing on that channel, and channel failures are retried or recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.channels.base import SendResult
from siyu.messaging.tables import MessageLog
from tests.journeys.runner_world import World, events, shanghai


def one_send(name: str, channel: str = "memory", purpose: str = "marketing", **send: Any) -> dict[str, Any]:
    return {
        "name": name, "triggers": [{"type": "manual"}], "start": "send",
        "nodes": [{"type": "send", "id": "send", "channel": channel, "template_id": "note",
                   "purpose": purpose, "next": "done", **send}, {"type": "exit", "id": "done"}],
    }  # fmt: skip


@pytest.fixture
def world(db_url: str, frozen_clock: Any) -> World:
    frozen_clock.current = shanghai(2026, 11, 2, 10)  # a Monday, 10:00 in Shanghai
    w = World(db_url, frozen_clock)
    for channel in ("memory", "wecom", "sms_aliyun"):
        extra = {"provider_template": "SMS_1"} if channel == "sms_aliyun" else {}
        w.template(
            "note" if channel == "memory" else f"note_{channel}",
            channel,
            "第 {{ journey.id }} 号旅程",
            **extra,
        )
    return w


def test_five_journeys_one_customer_one_day(world: World) -> None:
    w = world
    cid = w.identify("u1")
    marketing = [w.journey(one_send(f"营销 {i}")) for i in range(5)]
    receipt = w.journey(one_send("订单回执", purpose="transactional"))
    for jid in [*marketing, receipt]:
        w.trigger(jid, [cid])
    w.drive()
    got = [m.body for m in w.delivered()]
    assert len(got) == 3 and f"第 {receipt} 号旅程" in got  # 2 marketing (the daily cap) + the receipt
    deferred = w.outbox(status="deferred")
    assert len(deferred) == 3
    assert {d.reason_code for d in deferred} == {"daily_budget"}
    assert {d.next_attempt_at for d in deferred} == {shanghai(2026, 11, 3, 9)}  # next day, after quiet hours
    assert all("推迟到 2026-11-03 09:00" in (d.reason_zh or "") for d in deferred)
    assert len(list(events(w, "Message Deferred", cid))) == 3
    w.advance(hours=23, minutes=30)  # Tuesday 09:30: two more go; the last would wait past its 24 h expiry
    assert len(w.delivered()) == 5
    (dropped,) = w.outbox(status="dropped")
    assert dropped.reason_code == "expires_before_slot"
    assert "daily marketing limit" in (dropped.reason_en or "")
    assert [e["reason"] for e in events(w, "Message Dropped", cid)] == ["expires_before_slot"]
    with w.session() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog)) == 5


def test_opted_out_customer_gets_nothing_on_that_channel(world: World) -> None:
    w = world
    out = w.identify("out", wecom_external_userid="wmOUT", phone="13800000021")
    fine = w.identify("fine", wecom_external_userid="wmFINE", phone="13800000022")
    w.consent(out, "wecom", "transactional", "denied")  # refuses WeCom entirely
    journeys = [
        w.journey(one_send("企微营销", "wecom", template_id="note_wecom")),
        w.journey(one_send("企微服务", "wecom", "service", template_id="note_wecom")),
        w.journey(one_send("企微交易", "wecom", "transactional", template_id="note_wecom")),
        w.journey(one_send("短信服务", "sms_aliyun", "service", template_id="note_sms_aliyun")),
    ]
    for jid in journeys:
        w.trigger(jid, [out, fine])
    w.drive()
    assert sorted(m.recipient for m in w.delivered("wecom")) == ["wmFINE"] * 3
    assert sorted(m.recipient for m in w.delivered("sms_aliyun")) == ["+8613800000021", "+8613800000022"]
    dropped = w.outbox(status="dropped")
    assert len(dropped) == 3 and {d.customer_id for d in dropped} == {out}
    assert {d.reason_code for d in dropped} == {"consent_denied"}


def test_unsubscribed_marketing_only(world: World) -> None:
    w = world
    cid = w.identify("u2", wecom_external_userid="wmU2")
    w.consent(cid, "wecom", "marketing", "unsubscribed")
    promo = w.journey(one_send("促销", "wecom", template_id="note_wecom"))
    notice = w.journey(one_send("服务通知", "wecom", "service", template_id="note_wecom"))
    for jid in (promo, notice):
        w.trigger(jid, [cid])
    w.drive()
    assert [m.body for m in w.delivered("wecom")] == [f"第 {notice} 号旅程"]
    assert [d.reason_code for d in w.outbox(status="dropped")] == ["unsubscribed"]


def test_retryable_failure_is_retried_with_the_same_key(world: World) -> None:
    w = world
    cid = w.identify("u3")
    jid = w.journey(one_send("重试", purpose="service"))
    w.channels["memory"].fail_next(SendResult.retryable("http_503", "busy"))
    w.trigger(jid, [cid])
    w.drive()
    (row,) = w.outbox()
    assert (row.status, row.reason_code, row.attempts) == ("pending", "http_503", 1)
    assert row.next_attempt_at is not None and (row.next_attempt_at - w.now).total_seconds() == 30
    with w.session() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog)) == 0  # a refused send uses no budget
    w.advance(seconds=31)
    (row,) = w.outbox()
    assert (row.status, row.attempts) == ("sent", 2)
    assert [m.idempotency_key for m in w.delivered()] == [row.key]
    assert w.channels["memory"].attempts == 2


def test_permanent_failure_is_recorded(world: World) -> None:
    w = world
    cid = w.identify("u4")
    jid = w.journey(one_send("失败", purpose="service"))
    w.channels["memory"].fail_next(SendResult.permanent("http_400", "bad recipient"))
    w.trigger(jid, [cid])
    w.drive()
    (row,) = w.outbox()
    assert (row.status, row.reason_code, row.reason_en) == ("failed", "http_400", "bad recipient")
    (failed,) = events(w, "Message Failed", cid)
    assert (
        failed["message_id"] == row.key and failed["journey_id"] == str(jid) and failed["channel"] == "memory"
    )
    with w.session() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog)) == 0


def test_missing_address_and_template_are_reasons_not_losses(world: World) -> None:
    w = world
    cid = w.identify("u5")  # no WeCom contact
    nowhere = w.journey(one_send("无企微", "wecom", "service", template_id="note_wecom"))
    broken = w.journey(one_send("无模板", "memory", "service", template_id="missing"))
    for jid in (nowhere, broken):
        w.trigger(jid, [cid])
    w.drive()
    reasons = {(o.journey_id, o.status, o.reason_code) for o in w.outbox()}
    assert reasons == {(nowhere, "dropped", "no_address"), (broken, "failed", "template_missing")}
