"""The contact-pressure governor: send now, defer to the first allowed local time, or drop — with a reason.

Pure: `decide(candidate, history, consent, policy, now)`; the outbox loads the inputs and records the
decision. Budgets are checked when a message is actually sent, so a deferral reserves nothing: the outbox
asks again at the deferred time, with the history as it is then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .localtime import (
    aware_utc,
    day_start,
    local_label,
    next_day_start,
    next_week_start,
    week_start,
    window_end,
    zone,
)
from .policy import PURPOSES, Candidate, ConsentView, ContactHistory, Policy
from .reasons import Reason, deferral_texts, texts

Outcome = Literal["send", "defer", "drop"]
_MAX_ROUNDS = 1000  # each round moves the slot forward; policies converge in a handful


@dataclass(frozen=True)
class Decision:
    """`at`: now for send, the slot for defer, None for drop. `blocked_by`: every rule that moved the slot."""

    outcome: Outcome
    reason: Reason
    message_zh: str
    message_en: str
    at: datetime | None = None
    blocked_by: tuple[Reason, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


# A rule answers None (allowed at t) or (reason, earliest time it could allow, details for the text).
Block = tuple[Reason, datetime, dict[str, Any]]
Rule = Callable[[Candidate, ContactHistory, Policy, ZoneInfo, datetime], Block | None]


def _quiet_hours(c: Candidate, h: ContactHistory, p: Policy, tz: ZoneInfo, t: datetime) -> Block | None:
    if c.purpose == "transactional" or (c.purpose == "service" and c.urgent):
        return None
    end = window_end(t, p.quiet_start, p.quiet_end, tz)
    if end is None:
        return None
    return Reason.QUIET_HOURS, end, {"quiet": f"{p.quiet_start:%H:%M}-{p.quiet_end:%H:%M}"}


def _daily_budget(c: Candidate, h: ContactHistory, p: Policy, tz: ZoneInfo, t: datetime) -> Block | None:
    if c.purpose != "marketing" or (not h.sent and p.marketing_per_day > 0):
        return None  # (no sends at all: nothing to count)
    end = next_day_start(t, tz)
    if h.count(day_start(t, tz), end, purpose="marketing") < p.marketing_per_day:
        return None
    return Reason.DAILY_BUDGET, end, {"limit": p.marketing_per_day}


def _weekly_budget(c: Candidate, h: ContactHistory, p: Policy, tz: ZoneInfo, t: datetime) -> Block | None:
    if c.purpose != "marketing" or (not h.sent and p.marketing_per_week > 0):
        return None
    end = next_week_start(t, tz)
    if h.count(week_start(t, tz), end, purpose="marketing") < p.marketing_per_week:
        return None
    return Reason.WEEKLY_BUDGET, end, {"limit": p.marketing_per_week}


def _channel_quota(c: Candidate, h: ContactHistory, p: Policy, tz: ZoneInfo, t: datetime) -> Block | None:
    """Platform quotas (WeCom: one mass message per customer per day) bind every purpose."""
    limit = p.daily_quotas.get(c.quota_key)
    if limit is None or (not h.sent and limit > 0):
        return None
    end = next_day_start(t, tz)
    if h.count(day_start(t, tz), end, quota=c.quota_key) < limit:
        return None
    return Reason.CHANNEL_QUOTA, end, {"limit": limit, "quota": c.quota_key}


RULES: tuple[Rule, ...] = (_quiet_hours, _channel_quota, _weekly_budget, _daily_budget)


def _consent_block(c: Candidate, consent: ConsentView, p: Policy) -> Reason | None:
    """A refusal of a more essential purpose covers the less essential ones: denying transactional
    messages on a channel denies the channel entirely; a service refusal also stops marketing."""
    for purpose in PURPOSES[: PURPOSES.index(c.purpose) + 1]:
        status = consent.status(c.channel, purpose)
        if status == "denied":
            return Reason.CONSENT_DENIED
        if status == "unsubscribed":
            return Reason.UNSUBSCRIBED
    opted_in = consent.status(c.channel, "marketing") == "granted"
    if c.purpose == "marketing" and p.marketing_requires_opt_in and not opted_in:
        return Reason.NO_OPT_IN
    return None


def earliest_slot(
    c: Candidate, history: ContactHistory, policy: Policy, tz: ZoneInfo, now: datetime
) -> tuple[datetime | None, list[Block]]:
    """The first instant ≥ now that every rule allows (None past the horizon), and the blocks met."""
    horizon = now + timedelta(days=policy.max_defer_days)
    t, blocks = now, []
    for _ in range(_MAX_ROUNDS):
        for rule in RULES:
            block = rule(c, history, policy, tz, t)
            if block is not None:
                blocks.append(block)
                t = block[1]
                break
        else:
            return t, blocks
        if t > horizon:
            break
    return None, blocks


def decide(
    message: Candidate, history: ContactHistory, consent: ConsentView, policy: Policy, now: datetime
) -> Decision:
    """Send now, defer to the first allowed slot, or drop; always with a reason code and zh/en text."""
    now = aware_utc(now, "now")
    tz = zone(message.timezone or policy.timezone)
    details: dict[str, Any] = {"channel": message.family, "purpose": message.purpose, "key": message.key}

    refused = _consent_block(message, consent, policy)
    if refused is not None:
        return _drop(refused, details)
    if message.purpose == "marketing" and min(policy.marketing_per_day, policy.marketing_per_week) == 0:
        return _drop(Reason.MARKETING_OFF, details)
    expires = aware_utc(message.expires_at, "expires_at") if message.expires_at is not None else None
    if expires is not None:
        details["expires"] = local_label(expires, tz)
        if now > expires:
            return _drop(Reason.EXPIRED, details)

    slot, blocks = earliest_slot(message, history, policy, tz, now)
    blocked_by = tuple(dict.fromkeys(b[0] for b in blocks))
    if slot is None:
        return _drop(Reason.NO_SLOT, {**details, "days": policy.max_defer_days}, blocked_by)
    if not blocks:
        zh, en = texts(Reason.ALLOWED, details)
        return Decision("send", Reason.ALLOWED, zh, en, now, (), details)

    first, _, info = blocks[0]
    details = {**details, **info, "slot": local_label(slot, tz)}
    if expires is not None and slot > expires:
        zh, en = texts(first, details)
        return _drop(Reason.EXPIRES_BEFORE_SLOT, {**details, "blocked_zh": zh, "blocked_en": en}, blocked_by)
    zh, en = deferral_texts(first, details, details["slot"])
    return Decision("defer", first, zh, en, slot, blocked_by, details)


def _drop(reason: Reason, details: dict[str, Any], blocked_by: tuple[Reason, ...] = ()) -> Decision:
    zh, en = texts(reason, details)
    return Decision("drop", reason, zh, en, None, blocked_by, details)
