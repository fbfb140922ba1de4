"""The seed playbooks as ready journey definitions an operator clones: welcome a new friend, wake up silent
customers, remind to replenish, coupon after repeated browsing, birthday greeting, 48-hour complaint response.

Each builder takes the ids that differ per brand (segments, tags, staff, URLs) and returns plain JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Definition = dict[str, Any]
ORDER_COMPLETED = "Order Completed"
WEEK_HOURS = 7 * 24


def _send(node_id: str, template: str, nxt: str, **extra: Any) -> dict[str, Any]:
    return {"type": "send", "id": node_id, "channel": "wecom", "template_id": template, "next": nxt,
            "purpose": "marketing", "mass": True, **extra}  # fmt: skip


def _exit(node_id: str, reason: str) -> dict[str, Any]:
    return {"type": "exit", "id": node_id, "reason": reason}


def welcome_new_friend(*, new_customer_tag_id: int) -> Definition:
    """新客欢迎: welcome message with a coupon when the customer adds the advisor, a guide at 10:00.
    The welcome is urgent: it answers the customer's own action and WeCom's welcome_code lasts 20 s."""
    return {
        "name": "新客欢迎 Welcome a new friend",
        "triggers": [{"type": "event", "event": "Contact Added"}],
        "start": "welcome",
        "nodes": [
            _send("welcome", "welcome_coupon", "next_morning", purpose="service", mass=False,
                  priority="urgent", coupon_pool="welcome", expiry={"type": "drop_after", "hours": 1},
                  label="欢迎语 + 新人券"),
            {"type": "wait", "id": "next_morning", "delay": {"type": "time_of_day", "at": "10:00"},
             "next": "guide"},
            _send("guide", "style_guide", "tag_new", label="穿搭指南"),
            {"type": "tag", "id": "tag_new", "tag_id": new_customer_tag_id, "next": "done"},
            _exit("done", "welcomed"),
        ],
        "reentry": {"type": "never"},
        "goal": {"event": ORDER_COMPLETED, "within_hours": WEEK_HOURS, "exit_on_goal": False},
    }  # fmt: skip


def wake_up_silent(
    *, silent_segment_id: int, woken_tag_id: int, fallback_staff_id: int | None = None
) -> Definition:
    """沉睡唤醒: a 回归礼包 to customers silent for 30 days; no order in 3 days → advisor follow-up with a
    24-hour SLA; not done in time → an SMS fallback."""
    return {
        "name": "沉睡唤醒 Wake up silent customers",
        "triggers": [{"type": "segment_entered", "segment_id": silent_segment_id}],
        "start": "gift",
        "nodes": [
            _send("gift", "comeback_gift", "watch", coupon_pool="comeback", expiry={"type": "defer"},
                  label="专属回归礼包"),
            {"type": "wait_event", "id": "watch", "event": ORDER_COMPLETED, "timeout": {"days": 3},
             "on_event": "woken", "on_timeout": "follow_up"},
            {"type": "tag", "id": "woken", "tag_id": woken_tag_id, "next": "back"},
            _exit("back", "woken_up"),
            {"type": "task", "id": "follow_up", "title": "跟进沉睡客户:回归礼包未使用", "sla_hours": 24,
             "assignee": "owner", "staff_id": fallback_staff_id, "done": "followed",
             "not_done_in_time": "sms"},
            _exit("followed", "followed_up"),
            _send("sms", "comeback_sms", "sms_sent", channel="sms_aliyun", mass=False),
            _exit("sms_sent", "sms_fallback"),
        ],
        "reentry": {"type": "after_days", "days": 30},
        "goal": {"event": ORDER_COMPLETED, "within_hours": 14 * 24, "exit_on_goal": False},
    }  # fmt: skip


def replenish_reminder() -> Definition:
    """复购提醒: 15 days before the expected replenish date at 10:00; no order within 7 days → a trial kit."""
    return {
        "name": "复购提醒 Replenish reminder",
        "triggers": [{"type": "date_trait", "trait": "expected_replenish_date", "offset_days": -15,
                      "at": "10:00"}],
        "start": "remind",
        "nodes": [
            _send("remind", "replenish_reminder", "watch", label="补货提醒"),
            {"type": "wait_event", "id": "watch", "event": ORDER_COMPLETED, "timeout": {"days": 7},
             "on_event": "bought", "on_timeout": "trial"},
            _exit("bought", "replenished"),
            _send("trial", "trial_kit_offer", "offered", coupon_pool="trial", label="新品试用装"),
            _exit("offered", "trial_offered"),
        ],
        "reentry": {"type": "after_days", "days": 30},
        "goal": {"event": ORDER_COMPLETED, "within_hours": 15 * 24, "exit_on_goal": False},
    }  # fmt: skip


def browse_coupon(*, browsed_segment_id: int) -> Definition:
    """浏览未购: entering the segment "Product Viewed ≥ 3 times in 7 days", wait 30 minutes; no order in
    the last 7 days → A/B test of two coupons against a 10% holdout."""
    return {
        "name": "浏览送券 Coupon after 3 product views",
        "triggers": [{"type": "segment_entered", "segment_id": browsed_segment_id}],
        "start": "settle",
        "nodes": [
            {"type": "wait", "id": "settle", "delay": {"type": "duration", "minutes": 30},
             "next": "no_order"},
            {"type": "condition", "id": "no_order", "label": "7 天内未下单",
             "condition": {"type": "not", "child": {"type": "order", "metric": "last_order_at",
                                                    "op": "within_last_days", "value": 7}},
             "yes": "ab", "no": "bought"},
            {"type": "split", "id": "ab", "holdout_percent": 10,
             "variants": [{"name": "A", "weight": 50, "next": "coupon_a"},
                          {"name": "B", "weight": 50, "next": "coupon_b"}]},
            _send("coupon_a", "browse_coupon_10", "sent", coupon_pool="browse10"),
            _send("coupon_b", "browse_coupon_20", "sent", coupon_pool="browse20"),
            _exit("sent", "coupon_sent"),
            _exit("bought", "already_bought"),
        ],
        "reentry": {"type": "after_days", "days": 30},
        "goal": {"event": ORDER_COMPLETED, "within_hours": 72},
    }  # fmt: skip


VALUABLE = ["important_value", "important_develop", "important_retain", "important_win_back"]


def birthday_greeting() -> Definition:
    """生日祝福: at 10:00 on the birthday; 重要 RFM tiers get a bigger gift."""
    return {
        "name": "生日祝福 Birthday greeting",
        "triggers": [{"type": "date_trait", "trait": "birthday", "at": "10:00", "annual": True}],
        "start": "vip",
        "nodes": [
            {"type": "condition", "id": "vip", "condition": {"type": "rfm", "tiers": VALUABLE},
             "yes": "gift_vip", "no": "greet"},
            _send("gift_vip", "birthday_vip", "done", coupon_pool="birthday_vip",
                  expiry={"type": "drop_after", "hours": 12}),
            _send("greet", "birthday", "done", coupon_pool="birthday",
                  expiry={"type": "drop_after", "hours": 12}),
            _exit("done", "greeted"),
        ],
        "reentry": {"type": "after_days", "days": 300},
        "goal": {"event": ORDER_COMPLETED, "within_hours": WEEK_HOURS},
    }  # fmt: skip


def complaint_response(*, complaint_tag_id: int, supervisor_staff_id: int, alert_url: str) -> Definition:
    """48 小时投诉响应: acknowledge at once, advisor calls within 2 h, else a supervisor within 22 h, else an
    alert; resolved within 48 h → satisfaction survey the next day; unresolved → alert."""
    return {
        "name": "48 小时投诉响应 48-hour complaint response",
        "triggers": [{"type": "event", "event": "Complaint Filed"}],
        "start": "mark",
        "nodes": [
            {"type": "tag", "id": "mark", "tag_id": complaint_tag_id, "next": "ack"},
            _send("ack", "complaint_ack", "call", channel="sms_aliyun", purpose="service", priority="urgent",
                  mass=False, expiry={"type": "drop_after", "hours": 2}),
            {"type": "task", "id": "call", "title": "2 小时内联系投诉客户", "sla_hours": 2,
             "assignee": "owner", "staff_id": supervisor_staff_id, "done": "resolved",
             "not_done_in_time": "escalate"},
            {"type": "task", "id": "escalate", "title": "投诉升级:主管处理", "sla_hours": 22,
             "assignee": "staff", "staff_id": supervisor_staff_id, "done": "resolved",
             "not_done_in_time": "alert"},
            {"type": "webhook", "id": "alert", "url": alert_url, "body": {"alert": "complaint_sla_breached"},
             "next": "resolved"},
            {"type": "wait_event", "id": "resolved", "event": "Complaint Resolved", "timeout": {"hours": 24},
             "on_event": "unmark", "on_timeout": "unresolved"},
            {"type": "tag", "id": "unmark", "action": "remove", "tag_id": complaint_tag_id,
             "next": "next_day"},
            {"type": "wait", "id": "next_day", "delay": {"type": "duration", "days": 1}, "next": "survey"},
            _send("survey", "complaint_survey", "closed", channel="sms_aliyun", purpose="service",
                  mass=False),
            _exit("closed", "resolved"),
            {"type": "webhook", "id": "unresolved", "url": alert_url,
             "body": {"alert": "complaint_unresolved_48h"}, "next": "open"},
            _exit("open", "unresolved"),
        ],
        "reentry": {"type": "always"},
        "goal": {"event": "Complaint Resolved", "within_hours": 48, "exit_on_goal": False},
    }  # fmt: skip


@dataclass(frozen=True)
class Playbook:
    key: str
    name_zh: str
    name_en: str
    build: Callable[..., Definition]


PLAYBOOKS = {
    p.key: p
    for p in (
        Playbook("welcome", "新客欢迎", "Welcome a new friend", welcome_new_friend),
        Playbook("wake_up", "沉睡唤醒", "Wake up silent customers", wake_up_silent),
        Playbook("replenish", "复购提醒", "Replenish reminder", replenish_reminder),
        Playbook("browse_coupon", "浏览送券", "Coupon after 3 product views", browse_coupon),
        Playbook("birthday", "生日祝福", "Birthday greeting", birthday_greeting),
        Playbook("complaint", "48 小时投诉响应", "48-hour complaint response", complaint_response),
    )
}
