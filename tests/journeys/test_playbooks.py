"""The seed playbooks, each driven through the step function on a simulated clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from siyu.journeys import playbooks
from siyu.journeys.assignment import assign
from siyu.journeys.entry import date_trait_fires_at, event_starts, may_enter
from siyu.journeys.runtime import (
    AddTag,
    CallWebhook,
    CancelTimer,
    CreateTask,
    Exit,
    GoalReached,
    NodeEntered,
    RemoveTag,
    RunState,
    SendMessage,
)
from siyu.journeys.schemas import SplitNode, parse_definition
from siyu.messaging.governor import decide
from siyu.messaging.policy import ConsentView, ContactHistory, Policy, SentMessage

from .sim import Sim, shanghai


def test_every_playbook_is_a_valid_definition() -> None:
    built = {
        "welcome": playbooks.welcome_new_friend(new_customer_tag_id=1),
        "wake_up": playbooks.wake_up_silent(silent_segment_id=2, woken_tag_id=3),
        "replenish": playbooks.replenish_reminder(),
        "browse_coupon": playbooks.browse_coupon(browsed_segment_id=4),
        "birthday": playbooks.birthday_greeting(),
        "complaint": playbooks.complaint_response(
            complaint_tag_id=5, supervisor_staff_id=6, alert_url="https://ops.example/a"
        ),
    }
    assert set(built) == set(playbooks.PLAYBOOKS)
    for key, definition in built.items():
        parsed = parse_definition(definition)
        assert parsed.name.startswith(playbooks.PLAYBOOKS[key].name_zh)
        assert parse_definition(parsed.model_dump(mode="json")) == parsed  # stored JSON round-trips


# --- 新客欢迎 ------------------------------------------------------------------------------------------


def test_welcome_sends_coupon_now_and_the_guide_at_ten_next_morning() -> None:
    definition = playbooks.welcome_new_friend(new_customer_tag_id=11)
    trigger = parse_definition(definition).triggers[0]
    assert event_starts(trigger, "Contact Added", {"advisor": "zhangsan"})
    assert not event_starts(trigger, "Signed Up", {})

    sim = Sim(definition, now=shanghai(2024, 5, 1, 15, 20))
    sim.start(key="event:msg-1", welcome_code="WC1")
    (welcome,) = sim.of(SendMessage)
    assert (welcome.key, welcome.purpose, welcome.mass, welcome.coupon_pool) == (
        "journey:r1:welcome:1", "service", False, "welcome")  # fmt: skip
    assert welcome.expires_at == sim.now + timedelta(hours=1)
    assert sim.state.trigger == {"welcome_code": "WC1"}
    assert sim.timers == {"journey:r1:next_morning:1:timer": shanghai(2024, 5, 2, 10)}

    sim.run_until(shanghai(2024, 5, 2, 12))
    guide = sim.of(SendMessage)[1]
    assert (guide.template_id, guide.purpose, guide.mass, guide.created_at) == (
        "style_guide", "marketing", True, shanghai(2024, 5, 2, 10))  # fmt: skip
    assert sim.of(AddTag)[0].tag_id == 11
    assert sim.of(Exit)[0].reason == "welcomed"
    assert sim.state.status == "awaiting_goal"  # still measuring: Order Completed within 7 days

    sim.event("Order Completed", key="event:order-9", order_id="o9")
    assert sim.of(GoalReached)[0].event_key == "event:order-9"
    assert sim.state.status == "exited"
    assert sim.timers == {}


def test_welcome_at_night_still_greets_at_once_but_keeps_the_guide_for_ten() -> None:
    sim = Sim(playbooks.welcome_new_friend(new_customer_tag_id=1), now=shanghai(2024, 5, 1, 23, 40))
    sim.start()
    welcome = sim.of(SendMessage)[0]
    decision = decide(welcome.candidate("Asia/Shanghai"), ContactHistory(), ConsentView(), Policy(), sim.now)
    assert (decision.outcome, welcome.urgent) == ("send", True)
    sim.run_until(shanghai(2024, 5, 2, 10))
    guide = sim.of(SendMessage)[1]
    assert guide.created_at == shanghai(2024, 5, 2, 10)
    history = ContactHistory((SentMessage(welcome.created_at, "wecom", "service"),))
    assert (
        decide(guide.candidate("Asia/Shanghai"), history, ConsentView(), Policy(), sim.now).outcome == "send"
    )


def test_welcome_goal_window_closes_without_an_order() -> None:
    sim = Sim(playbooks.welcome_new_friend(new_customer_tag_id=1), now=shanghai(2024, 5, 1, 8))
    sim.start()
    assert sim.state.waiting is not None and sim.state.waiting.until == shanghai(2024, 5, 1, 10)  # same day
    sim.advance(days=8)
    assert sim.state.status == "exited" and sim.state.goal_reached_at is None
    assert sim.event("Order Completed").ignored == "run is exited"


# --- 沉睡唤醒 ------------------------------------------------------------------------------------------


def wake_up(**kw: Any) -> Sim:
    definition = playbooks.wake_up_silent(silent_segment_id=30, woken_tag_id=31, fallback_staff_id=5)
    sim = Sim(definition, now=shanghai(2024, 5, 6, 9), **kw)
    trigger = sim.version.definition.triggers[0]
    assert event_starts(trigger, "Segment Entered", {"segment_id": 30})
    assert not event_starts(trigger, "Segment Entered", {"segment_id": 31})
    assert not event_starts(trigger, "Segment Exited", {"segment_id": 30})
    sim.start(key="segment:30:entered:1:e1")
    (gift,) = sim.of(SendMessage)
    assert (gift.template_id, gift.coupon_pool, gift.expires_at) == ("comeback_gift", "comeback", None)
    return sim


def test_wake_up_customer_who_orders_is_tagged_and_counted_as_converted() -> None:
    sim = wake_up()
    sim.advance(days=1)
    sim.event("Order Completed", key="event:o1")
    assert sim.path() == ["gift", "watch", "woken", "back"]
    assert sim.of(CancelTimer)[0].key == "journey:r1:watch:1:timer"
    assert sim.of(AddTag)[0].tag_id == 31
    assert sim.of(GoalReached)[0].at == shanghai(2024, 5, 7, 9)
    assert sim.state.status == "exited" and sim.state.exit_reason == "woken_up"
    assert sim.timers == {}


def test_wake_up_silent_customer_gets_an_advisor_task_done_in_time() -> None:
    sim = wake_up()
    sim.advance(days=3)
    (task,) = sim.of(CreateTask)
    assert (task.assignee, task.staff_id, task.due_at) == ("owner", 5, shanghai(2024, 5, 10, 9))
    sim.advance(hours=5)
    sim.complete_task(task.key)
    assert sim.state.exit_reason == "followed_up"
    assert sim.state.status == "awaiting_goal"  # 14-day goal window still open


def test_wake_up_task_missed_falls_back_to_sms() -> None:
    sim = wake_up()
    sim.advance(days=4, hours=1)
    assert sim.complete_task("journey:r1:follow_up:1").ignored == "no wait or goal matches"  # too late
    sms = sim.of(SendMessage)[-1]
    assert (sms.channel, sms.template_id, sms.created_at) == (
        "sms_aliyun",
        "comeback_sms",
        shanghai(2024, 5, 10, 9),
    )
    assert sim.state.exit_reason == "sms_fallback"


def test_wake_up_reentry_after_thirty_days() -> None:
    reentry = parse_definition(playbooks.wake_up_silent(silent_segment_id=1, woken_tag_id=2)).reentry
    entered = shanghai(2024, 5, 1)
    assert not may_enter(
        reentry, last_entered_at=entered, has_active_run=False, now=entered + timedelta(days=29)
    )
    assert may_enter(reentry, last_entered_at=entered, has_active_run=False, now=entered + timedelta(days=30))
    assert not may_enter(
        reentry, last_entered_at=entered, has_active_run=True, now=entered + timedelta(days=40)
    )


# --- 复购提醒 ------------------------------------------------------------------------------------------


def test_replenish_reminder_fires_fifteen_days_before_and_offers_a_trial_kit() -> None:
    definition = playbooks.replenish_reminder()
    trigger = parse_definition(definition).triggers[0]
    fire = date_trait_fires_at(trigger, "2024-06-20", "Asia/Shanghai", after=shanghai(2024, 5, 1))
    assert fire == shanghai(2024, 6, 5, 10)
    assert date_trait_fires_at(trigger, "2024-06-20", "Asia/Shanghai", after=fire) is None  # once

    sim = Sim(definition, now=fire)
    sim.start(key="date:expected_replenish_date:2024-06-05")
    sim.event("Order Completed", at=fire - timedelta(days=1))  # before the wait began: not a reply
    sim.advance(days=7)
    assert [s.template_id for s in sim.of(SendMessage)] == ["replenish_reminder", "trial_kit_offer"]
    assert sim.state.exit_reason == "trial_offered"


def test_replenish_reminder_stops_when_the_customer_reorders() -> None:
    sim = Sim(playbooks.replenish_reminder(), now=shanghai(2024, 6, 5, 10))
    sim.start()
    sim.advance(days=2)
    sim.event("Order Completed")
    assert [s.template_id for s in sim.of(SendMessage)] == ["replenish_reminder"]
    assert sim.state.exit_reason == "replenished" and sim.state.status == "exited"


# --- 浏览送券 ------------------------------------------------------------------------------------------


def test_browse_coupon_ab_test_with_holdout() -> None:
    definition = playbooks.browse_coupon(browsed_segment_id=40)
    split = parse_definition(definition).node("ab")
    assert isinstance(split, SplitNode)
    seen: list[Mapping[str, Any]] = []

    def no_recent_order(condition: Mapping[str, Any], state: RunState, now: datetime) -> bool:
        seen.append(condition)
        return True

    outcomes = {}
    for customer in range(1, 60):
        sim = Sim(definition, now=shanghai(2024, 5, 1, 20), customer_id=customer, evaluate=no_recent_order)
        sim.start()
        assert sim.of(SendMessage) == []  # settles for 30 minutes first
        sim.advance(minutes=30)
        variant = assign(split, 7, customer)
        outcomes[customer] = sim.state.variants["ab"]
        assert outcomes[customer] == ("holdout" if variant is None else variant.name)
        marks = [a for a in sim.of(NodeEntered) if a.node_id == "ab"]
        assert marks[0].variant == outcomes[customer]
        if variant is None:
            assert sim.of(SendMessage) == [] and sim.state.exit_reason == "holdout"
        else:
            (coupon,) = sim.of(SendMessage)
            assert coupon.template_id == {"A": "browse_coupon_10", "B": "browse_coupon_20"}[variant.name]
            assert coupon.variants == {"ab": variant.name}
        assert sim.state.status == "awaiting_goal"  # holdout conversions are measured too
    assert set(outcomes.values()) == {"A", "B", "holdout"}
    assert seen[0] == {"type": "not", "child": {"type": "order", "metric": "last_order_at",
                                                "op": "within_last_days", "value": 7}}  # fmt: skip


def test_browse_coupon_skips_customers_who_just_bought() -> None:
    sim = Sim(playbooks.browse_coupon(browsed_segment_id=40), now=shanghai(2024, 5, 1, 12),
              evaluate=lambda condition, state, now: False)  # fmt: skip
    sim.start()
    sim.advance(hours=1)
    assert sim.path() == ["settle", "no_order", "bought"] and sim.of(SendMessage) == []


# --- 生日祝福 ------------------------------------------------------------------------------------------


def test_birthday_greets_at_ten_local_and_vips_get_the_bigger_gift() -> None:
    definition = playbooks.birthday_greeting()
    trigger = parse_definition(definition).triggers[0]
    after = datetime(2025, 1, 1, tzinfo=UTC)
    assert date_trait_fires_at(trigger, "1992-02-29", "Asia/Shanghai", after) == shanghai(2025, 2, 28, 10)
    fire = date_trait_fires_at(trigger, "1990-07-15", "America/New_York", after)
    assert fire == datetime(2025, 7, 15, 14, 0, tzinfo=UTC)  # 10:00 EDT

    for vip, template in ((True, "birthday_vip"), (False, "birthday")):
        sim = Sim(definition, now=shanghai(2025, 7, 15, 10), evaluate=lambda c, s, n, vip=vip: vip)
        sim.start(key="date:birthday:2025-07-15")
        (greeting,) = sim.of(SendMessage)
        assert greeting.template_id == template
        assert greeting.expires_at == sim.now + timedelta(hours=12)
        assert sim.of(Exit)[0].reason == "greeted"


# --- 48 小时投诉响应 -----------------------------------------------------------------------------------


def complaint() -> Sim:
    definition = playbooks.complaint_response(complaint_tag_id=50, supervisor_staff_id=9,
                                              alert_url="https://ops.example/alert")  # fmt: skip
    sim = Sim(definition, now=shanghai(2024, 5, 1, 22, 30))
    sim.start(key="event:complaint-1", topic="安装服务")
    assert sim.of(AddTag)[0].tag_id == 50
    (ack,) = sim.of(SendMessage)
    assert (ack.purpose, ack.urgent, ack.channel) == ("service", True, "sms_aliyun")
    return sim


def test_complaint_acknowledged_at_night_despite_quiet_hours() -> None:
    sim = complaint()
    ack = sim.of(SendMessage)[0]
    decision = decide(ack.candidate("Asia/Shanghai"), ContactHistory(), ConsentView(), Policy(), sim.now)
    assert decision.outcome == "send"  # urgent service breaks quiet hours


def test_complaint_handled_in_time_then_surveyed() -> None:
    sim = complaint()
    (call,) = sim.of(CreateTask)
    assert call.due_at == sim.now + timedelta(hours=2)
    sim.advance(hours=1)
    sim.complete_task(call.key)
    sim.advance(hours=10)
    sim.event("Complaint Resolved", key="event:resolved-1")
    assert sim.of(RemoveTag)[0].tag_id == 50
    assert sim.of(GoalReached)[0].event_key == "event:resolved-1"
    sim.advance(days=1)
    assert [s.template_id for s in sim.of(SendMessage)] == ["complaint_ack", "complaint_survey"]
    assert sim.state.exit_reason == "resolved" and sim.state.status == "exited"


def test_complaint_escalates_then_alerts_when_nobody_acts() -> None:
    sim = complaint()
    sim.advance(hours=2)
    escalate = sim.of(CreateTask)[1]
    assert (escalate.assignee, escalate.staff_id, escalate.title) == ("staff", 9, "投诉升级:主管处理")
    sim.advance(hours=22)
    (alert,) = sim.of(CallWebhook)
    assert alert.url == "https://ops.example/alert"
    assert alert.payload["data"] == {"alert": "complaint_sla_breached"} and alert.payload["customer_id"] == 1
    sim.advance(hours=24)
    assert [w.payload["data"]["alert"] for w in sim.of(CallWebhook)] == [
        "complaint_sla_breached", "complaint_unresolved_48h"]  # fmt: skip
    assert sim.state.exit_reason == "unresolved" and sim.state.status == "exited"
    assert sim.now == shanghai(2024, 5, 1, 22, 30) + timedelta(hours=48)


def test_five_journeys_on_one_day_deliver_the_cap_and_defer_the_rest_with_reasons() -> None:
    now = shanghai(2024, 5, 1, 11)
    sends = []
    for run, definition in enumerate(
        [playbooks.birthday_greeting(), playbooks.replenish_reminder()]
        + [playbooks.wake_up_silent(silent_segment_id=1, woken_tag_id=2)] * 3
    ):
        sim = Sim(definition, now=now, run_id=f"run{run}", evaluate=lambda c, s, n: False)
        sim.start()
        sends += sim.of(SendMessage)
    ack = complaint().of(SendMessage)[0]
    queue = [(now, i, m) for i, m in enumerate([*sends, ack])]
    history, log = ContactHistory(), []
    while queue:
        queue.sort(key=lambda item: (item[0], item[1]))
        at, order, message = queue.pop(0)
        decision = decide(message.candidate(), history, ConsentView(), Policy(), at)
        log.append((at, message.key, decision.outcome, decision.reason.value))
        if decision.outcome == "send":
            history = history.with_sent(SentMessage(at, message.channel, message.purpose, message.mass))
        elif decision.outcome == "defer":
            assert decision.at is not None
            queue.append((decision.at, order, message))
    first_day = [entry[2:] for entry in log[:6]]
    assert first_day == [
        ("send", "allowed"),  # birthday greeting: the day's one WeCom mass message
        ("defer", "channel_quota"),
        ("defer", "channel_quota"),
        ("defer", "channel_quota"),
        ("defer", "channel_quota"),
        ("send", "allowed"),  # the complaint acknowledgement (service SMS) is not held back
    ]
    sent_days = [at.astimezone(UTC).date() for at, _, outcome, _ in log if outcome == "send"]
    assert sorted(sent_days) == sent_days and len(sent_days) == len(set(sent_days)) + 1  # one mass a day
    drops = [entry for entry in log if entry[2] == "drop"]
    assert [(key, reason) for _, key, _, reason in drops] == []  # every message eventually went out
    assert len([e for e in log if e[2] == "send"]) == 6
