"""Reason codes of governor decisions (stored strings: never rename a value) and their zh/en wording.

Every decision carries one code and a sentence for operators in Chinese and English.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    ALLOWED = "allowed"
    QUIET_HOURS = "quiet_hours"
    DAILY_BUDGET = "daily_budget"
    WEEKLY_BUDGET = "weekly_budget"
    CHANNEL_QUOTA = "channel_quota"
    CONSENT_DENIED = "consent_denied"
    UNSUBSCRIBED = "unsubscribed"
    NO_OPT_IN = "no_opt_in"
    MARKETING_OFF = "marketing_off"
    EXPIRED = "expired"
    EXPIRES_BEFORE_SLOT = "expires_before_slot"
    NO_SLOT = "no_slot"


# (zh, en) with str.format placeholders filled from the decision's details.
TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.ALLOWED: ("允许立即发送", "allowed now"),
    Reason.QUIET_HOURS: (
        "处于免打扰时段({quiet})",
        "inside quiet hours ({quiet})",
    ),
    Reason.DAILY_BUDGET: (
        "今日营销消息已达上限({limit} 条)",
        "daily marketing limit reached ({limit})",
    ),
    Reason.WEEKLY_BUDGET: (
        "本周营销消息已达上限({limit} 条)",
        "weekly marketing limit reached ({limit})",
    ),
    Reason.CHANNEL_QUOTA: (
        "渠道 {quota} 今日配额已用完({limit} 条)",
        "channel quota {quota} used up for today ({limit})",
    ),
    Reason.CONSENT_DENIED: (
        "客户拒绝了 {channel} 渠道的{purpose_zh}消息",
        "customer denied {purpose} messages on {channel}",
    ),
    Reason.UNSUBSCRIBED: (
        "客户已退订 {channel} 渠道的{purpose_zh}消息",
        "customer unsubscribed from {purpose} messages on {channel}",
    ),
    Reason.NO_OPT_IN: (
        "客户未授权 {channel} 渠道的营销消息",
        "no marketing opt-in recorded for {channel}",
    ),
    Reason.MARKETING_OFF: (
        "营销消息上限设为 0,不发送营销消息",
        "marketing limit is 0: no marketing is sent",
    ),
    Reason.EXPIRED: (
        "消息已于 {expires} 过期",
        "message expired at {expires}",
    ),
    Reason.EXPIRES_BEFORE_SLOT: (
        "{blocked_zh};最早可发送时间 {slot} 晚于有效期 {expires},已放弃",
        "{blocked_en}; the first allowed time {slot} is after the expiry {expires}, dropped",
    ),
    Reason.NO_SLOT: (
        "{days} 天内找不到可发送的时间,已放弃",
        "no allowed time within {days} days, dropped",
    ),
}

PURPOSE_ZH = {"transactional": "交易", "service": "服务", "marketing": "营销"}


def texts(reason: Reason, details: dict[str, Any]) -> tuple[str, str]:
    """(zh, en) sentences for `reason`, filled from `details` (missing keys are a programming error)."""
    zh, en = TEXTS[reason]
    values = {**details, "purpose_zh": PURPOSE_ZH.get(str(details.get("purpose")), "")}
    return zh.format(**values), en.format(**values)


def deferral_texts(reason: Reason, details: dict[str, Any], slot_label: str) -> tuple[str, str]:
    zh, en = texts(reason, details)
    return f"{zh},推迟到 {slot_label}", f"{en}; deferred to {slot_label}"
