"""Deciding a claimed batch of outbox rows in memory: the governor per customer (in priority order, each
allowed send added to the customer's history before the next decision), then the address and the
rendered text of every message that may go. Pure bookkeeping over loaded data; `dispatch` does the I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from siyu.channels import registry
from siyu.channels.base import OutboundMessage
from siyu.core.errors import NotFound, ValidationFailed

from .governor import Decision, decide
from .localtime import aware_utc
from .outbox import WEBHOOK_CALL, OutboxRow
from .policy import Candidate, ConsentView, ContactHistory, Policy, SentMessage, dispatch_order
from .rendering import BatchRenderer, Rendered, RenderError
from .tables import ChannelSetting

PAUSE_RETRY = timedelta(minutes=10)  # a paused or unconfigured channel is asked again this much later
TEXTS = {
    "channel_paused": ("渠道已暂停,稍后重试", "channel paused by an operator; retried later"),
    "channel_unconfigured": ("渠道未配置,稍后重试", "channel not configured; retried later"),
    "channel_unknown": ("没有这个渠道", "no such channel"),
    "no_address": ("客户在该渠道没有联系方式", "the customer has no address on this channel"),
}


@dataclass
class Verdict:
    """What happens to one claimed row now."""

    row: OutboxRow
    outcome: str  # send | defer | drop | fail
    reason: str
    zh: str
    en: str
    at: datetime | None = None
    rendered: Rendered | None = None
    message: OutboundMessage | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def candidate(row: OutboxRow) -> Candidate:
    tz = (row.context or {}).get("timezone")
    return Candidate(
        key=row.key, customer_id=row.customer_id, channel=row.channel, purpose=row.purpose,  # type: ignore[arg-type]
        created_at=aware_utc(row.created_at), urgent=row.urgent, mass=row.mass, timezone=tz,
        expires_at=None if row.expires_at is None else aware_utc(row.expires_at),
    )  # fmt: skip


def _channel_state(name: str, settings: Mapping[str, ChannelSetting]) -> str | None:
    """None when the channel can take messages, else the reason code to defer or fail with."""
    row = settings.get(name)
    if row is not None and not row.enabled:
        return "channel_paused"
    try:
        registry.get(name)
    except NotFound:
        return "channel_unknown"
    except ValidationFailed:
        return "channel_unconfigured"
    return None


def govern(
    rows: Sequence[OutboxRow],
    histories: Mapping[int, ContactHistory],
    consents: Mapping[int, ConsentView],
    policy: Policy,
    settings: Mapping[str, ChannelSetting],
    now: datetime,
) -> list[Verdict]:
    """The governor's decision for every row; sends are added to the in-memory history as they go."""
    by_key = {r.key: r for r in rows}
    per_customer: dict[int, list[Candidate]] = {}
    for row in rows:
        per_customer.setdefault(row.customer_id, []).append(candidate(row))
    states = {
        name: _channel_state(name, settings) for name in {r.channel for r in rows} if name != WEBHOOK_CALL
    }
    out: list[Verdict] = []
    for cid, candidates in sorted(per_customer.items()):
        history = histories.get(cid, ContactHistory())
        consent = consents.get(cid, ConsentView())
        for c in dispatch_order(candidates):
            row = by_key[c.key]
            if row.channel == WEBHOOK_CALL:
                out.append(Verdict(row, "send", "allowed", "允许立即发送", "allowed now", now))
                continue
            decision = decide(c, history, consent, policy, now)
            blocked = states.get(row.channel)
            if decision.outcome == "send" and blocked is not None:
                out.append(_blocked(row, blocked, now))
                continue
            out.append(_verdict(row, decision))
            if decision.outcome == "send":
                history = history.with_sent(SentMessage(now, c.channel, c.purpose, c.mass))
    return out


def _blocked(row: OutboxRow, reason: str, now: datetime) -> Verdict:
    zh, en = TEXTS[reason]
    if reason == "channel_unknown":
        return Verdict(row, "fail", reason, zh, en)
    retry = now + PAUSE_RETRY
    if row.expires_at is not None and aware_utc(row.expires_at) < retry:
        return Verdict(row, "drop", "expires_before_slot", f"{zh};已过有效期", f"{en}; it expires first")
    return Verdict(row, "defer", reason, zh, en, retry)


def _verdict(row: OutboxRow, d: Decision) -> Verdict:
    details = {k: str(v) for k, v in d.details.items()}
    if d.blocked_by:
        details["blocked_by"] = ",".join(str(b) for b in d.blocked_by)
    return Verdict(row, d.outcome, str(d.reason), d.message_zh, d.message_en, d.at, details=details)


def prepare(
    verdicts: Sequence[Verdict], renderer: BatchRenderer, addresses: Mapping[str, Mapping[int, str]]
) -> None:
    """Address and render each message that may go; a missing address drops it, a template problem
    fails it (both with the reason)."""
    for v in verdicts:
        if v.outcome != "send" or v.row.channel == WEBHOOK_CALL:
            continue
        row = v.row
        address = addresses.get(row.channel, {}).get(row.customer_id)
        if address is None:
            v.outcome, v.reason, (v.zh, v.en) = "drop", "no_address", TEXTS["no_address"]
            continue
        try:
            v.rendered = renderer.render(row)
        except RenderError as exc:
            v.outcome, v.reason, v.zh, v.en = "fail", exc.code, exc.message, exc.message
            continue
        owner = renderer.owners.get(row.customer_id)
        v.extras = extras(row, v.rendered, owner[1] if owner else None)
        v.message = outbound(
            row, address, v.rendered.body, v.rendered.subject, v.rendered.html_body, v.extras
        )


def extras(row: OutboxRow, r: Rendered, sender: str | None) -> dict[str, Any]:
    """What the channel needs besides the text, stored with the row so a re-send is identical."""
    params = dict(r.params)
    trigger = (row.context or {}).get("trigger") or {}
    if row.channel == "wecom" and not row.mass and isinstance(trigger.get("welcome_code"), str):
        params["welcome_code"] = trigger["welcome_code"]
    return {"params": params, "provider_template": r.provider_template, "unsubscribe_url": r.unsubscribe_url,
            "sender_userid": sender}  # fmt: skip


def channel_key(key: str) -> str:
    """The idempotency key handed to the channel (at most 200 characters)."""
    return key if len(key) <= 200 else f"{key[:150]}#{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def outbound(
    row: OutboxRow,
    address: str,
    body: str | None,
    subject: str | None,
    html: str | None,
    extra: dict[str, Any],
) -> OutboundMessage:
    """The channel message for a row; built from the stored text when a stuck row is re-sent."""
    return OutboundMessage(
        channel=row.channel, recipient=address, customer_id=row.customer_id, purpose=row.purpose,  # type: ignore[arg-type]
        idempotency_key=channel_key(row.key), subject=subject, body=body or "", html_body=html,
        template_id=extra.get("provider_template"), params=extra.get("params") or {},
        unsubscribe_url=extra.get("unsubscribe_url"), sender_userid=extra.get("sender_userid"),
    )  # fmt: skip
