"""WeCom mass sends read back: outbox rows left `queued_for_confirmation` (the staff member has to confirm a
mass send in the WeCom app) become `sent` with `Message Delivered`, or `failed` with `Message Failed`.

Per task (msgid, sender): `get_groupmsg_task` (has the staff member sent it?), then, once sent,
`get_groupmsg_send_result` per customer: 1 sent, 2 not a friend, 3 already got a mass message that day,
0 not sent (yet). A row still waiting `wecom_confirmation_expiry_hours` after it was queued is failed
with `expired_unconfirmed`. Three steps, like dispatch: read the waiting rows (one transaction), ask WeCom
(no transaction), write each verdict only on rows still waiting (rows locked), so a second run or a
second worker never records an outcome twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import ColumnElement, false, func, or_, select, text
from sqlalchemy.orm import Session

from siyu.channels import registry
from siyu.core import clock
from siyu.core.database import write_lock
from siyu.core.errors import SiyuError
from siyu.core.settings import get_settings
from siyu.events.system import SystemEvent, record
from siyu.journeys.store import StatKey, add_stats
from siyu.wecom.errors import RATE_LIMITS, WeComError

from . import history, outbox, recipients, sqlids, tracking

log = logging.getLogger(__name__)
WAITING = "queued_for_confirmation"
CHANNEL = "wecom"
EXPIRED = "expired_unconfirmed"
# get_groupmsg_send_result status -> (outcome, reason code, zh, en)
RESULTS: dict[int, tuple[str, str, str, str]] = {
    1: (
        "delivered",
        "confirmed_sent",
        "员工已确认,企业微信已发送",
        "the staff member confirmed; WeCom sent it",
    ),
    2: (
        "failed",
        "not_a_friend",
        "客户已不是该员工的好友,未发送",
        "not a friend of the sender any more; not sent",
    ),
    3: (
        "failed",
        "mass_limit_reached",
        "客户今天已收到过群发消息,未发送",
        "the customer already received a mass message that day; not sent",
    ),
}
AWAITING_STAFF = ("awaiting_staff", "等待员工在企业微信中确认群发", "waiting for the staff member to confirm")
AWAITING_RESULT = (
    "awaiting_result",
    "员工已确认,等待企业微信发送结果",
    "the staff member confirmed; waiting for WeCom's result for this customer",
)
EXPIRED_TEXT = (
    "群发在有效期内未被员工确认发送给该客户",
    "the staff member did not send this mass message to the customer before it expired",
)


@runtime_checkable
class ConfirmationSource(Protocol):
    """What the job needs from the WeCom channel (siyu.channels.wecom.WeComChannel)."""

    def confirmed(self, msgid: str, sender: str) -> bool: ...

    def confirmation(self, msgid: str, sender: str) -> Sequence[Any]: ...


@dataclass
class Waiting:
    """An outbox row waiting for its staff member, with what its events say about it."""

    id: int
    key: str
    customer_id: int
    journey_id: int | None
    version: int | None
    node_id: str | None
    arm: str | None
    channel: str
    template_id: str
    purpose: str
    msgid: str | None
    sender: str | None
    group: bool
    queued_at: datetime
    address: str | None = None


@dataclass(frozen=True)
class TaskState:
    """What WeCom answered for one task: confirmed by the sender, and per external_userid its status
    with WeCom's send time. `error`: the calls failed (the rows wait for the next run)."""

    confirmed: bool = False
    results: Mapping[str, tuple[int, int | None]] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    row: Waiting
    outcome: str  # delivered | failed | waiting
    reason: str
    zh: str
    en: str
    at: datetime | None = None  # WeCom's send time, when it gave one


def judge(
    rows: Sequence[Waiting], state: TaskState | None, now: datetime, expiry: timedelta
) -> list[Verdict]:
    """Pure: each row's verdict from its task's state (None: WeCom not asked) and the expiry."""
    out = []
    for row in rows:
        verdict = _from_state(row, state)
        if verdict.outcome == "waiting" and now - row.queued_at >= expiry:
            verdict = Verdict(row, "failed", EXPIRED, *EXPIRED_TEXT)
        out.append(verdict)
    return out


def _from_state(row: Waiting, state: TaskState | None) -> Verdict:
    if state is None or state.error is not None or not state.confirmed:
        return Verdict(row, "waiting", *AWAITING_STAFF)
    if row.group:  # a group mass send has no per-customer result: the sender sent it to the groups
        outcome, code, zh, en = RESULTS[1]
        return Verdict(row, outcome, code, zh, en)
    found = (state.results or {}).get(row.address or "")
    if found is None or found[0] not in RESULTS:
        return Verdict(row, "waiting", *AWAITING_RESULT)
    outcome, code, zh, en = RESULTS[found[0]]
    at = datetime.fromtimestamp(found[1], UTC) if found[1] else None
    return Verdict(row, outcome, code, zh, en, at)


# --- reading -----------------------------------------------------------------------------------------


def waiting_tasks(session: Session, limit: int) -> dict[str | None, list[Waiting]]:
    """Up to `limit` tasks (msgid; None for rows without one), least recently checked first, with their
    waiting rows and each customer's WeCom address."""
    o = outbox.OUTBOX.c
    # the status as a literal: it selects the partial index `ix_outbox_confirming` (migration 0007)
    waiting = (text(f"outbox.status = '{WAITING}'"), o.channel == CHANNEL)
    checked = func.max(o.updated_at)  # see apply(): one row per task carries the last check
    pick = select(o.provider_id).where(*waiting).group_by(o.provider_id).order_by(checked, o.provider_id)
    msgids = list(session.scalars(pick.limit(limit)))
    if not msgids:
        return {}
    named = [m for m in msgids if m is not None]
    mine: ColumnElement[bool] = o.provider_id.in_(named) if named else false()
    if None in msgids:
        mine = or_(mine, o.provider_id.is_(None))
    columns = (o.id, o.key, o.customer_id, o.journey_id, o.version, o.node_id, o.arm, o.channel,
               o.template_id, o.purpose, o.provider_id, o.params, o.sent_at, o.created_at)  # fmt: skip
    rows = session.execute(select(*columns).where(*waiting, mine).order_by(o.id)).all()
    found = recipients.addresses(session, CHANNEL, (int(r.customer_id) for r in rows))
    tasks: dict[str | None, list[Waiting]] = {}
    for r in rows:
        params = r.params if isinstance(r.params, dict) else {}
        sender = params.get("sender_userid")
        group = (params.get("params") or {}).get("chat_type") == "group"
        queued = clock.as_utc(r.sent_at or r.created_at)
        row = Waiting(int(r.id), r.key, int(r.customer_id), r.journey_id, r.version, r.node_id, r.arm,
                      r.channel, r.template_id, r.purpose, r.provider_id,
                      sender if isinstance(sender, str) else None, group, queued,
                      found.get(int(r.customer_id)))  # fmt: skip
        tasks.setdefault(r.provider_id, []).append(row)
    return tasks


# --- asking WeCom --------------------------------------------------------------------------------------


class RateLimited(Exception):
    """WeCom answered a rate limit: stop this run, the next one carries on."""


def ask(source: ConfirmationSource, msgid: str, sender: str) -> TaskState:
    """The task's state; WeCom errors (after the client's own retries) become `error`, except rate
    limits, which stop the run (`RateLimited`)."""
    try:
        if not source.confirmed(msgid, sender):
            return TaskState(confirmed=False)
        results = {
            str(r.external_userid): (int(r.status), int(r.send_time) if r.send_time else None)
            for r in source.confirmation(msgid, sender)
            if r.external_userid
        }
    except WeComError as exc:
        if exc.errcode in RATE_LIMITS:
            raise RateLimited(str(exc)) from exc
        return TaskState(error=str(exc)[:300])
    return TaskState(confirmed=True, results=results)


def wecom_source() -> ConfirmationSource | None:
    """The WeCom channel, when it is configured and can read confirmations back."""
    try:
        channel = registry.get(CHANNEL)
    except SiyuError:
        return None
    return channel if isinstance(channel, ConfirmationSource) else None


# --- writing -------------------------------------------------------------------------------------------


def apply(session: Session, verdicts: Sequence[Verdict], now: datetime) -> Counter[str]:
    """Write the verdicts on rows still waiting (locked first); returns counts by outcome."""
    if not verdicts:
        return Counter()
    sql = "SELECT id, reason_code FROM outbox WHERE {in} AND status = :waiting ORDER BY id"
    ids = sqlids.ids_value(session, (v.row.id for v in verdicts))
    query = sqlids.text_in(session, sql, "id", lock="update")
    still = {int(i): code for i, code in session.execute(query, {"ids": ids, "waiting": WAITING})}
    # A row still waiting is rewritten only when its reason changes, except one row per task whose
    # updated_at marks when the task was last checked (tasks are taken least recently checked first).
    first: dict[str | None, int] = {}
    for v in verdicts:
        first[v.row.msgid] = min(v.row.id, first.get(v.row.msgid, v.row.id))
    markers = set(first.values())
    changes: list[dict[str, Any]] = []
    events: list[SystemEvent] = []
    stats: Counter[StatKey] = Counter()
    withdrawn: list[str] = []
    done: Counter[str] = Counter()
    for v in verdicts:
        if v.row.id not in still:
            continue  # another run recorded it meanwhile
        row = v.row
        change = {"id": row.id, "reason_code": v.reason[:32], "reason_zh": v.zh[:500],
                  "reason_en": v.en[:500], "updated_at": now}  # fmt: skip
        done[v.outcome] += 1
        if v.outcome == "waiting":
            if still[row.id] != v.reason[:32] or row.id in markers:
                changes.append(change)
            continue
        props = {**tracking.message_properties(row), "msgid": row.msgid, "sender": row.sender,
                 "reason": v.reason, "reason_zh": v.zh, "reason_en": v.en}  # fmt: skip
        code = tracking.open_code(row.key)
        if v.outcome == "delivered":
            changes.append({**change, "status": "sent"})
            events.append(SystemEvent(row.customer_id, tracking.OUTCOMES["delivered"], f"delivered:{code}",
                                      _when(v.at, row, now), {**props, "status": "sent"}))  # fmt: skip
        else:
            changes.append({**change, "status": "failed"})
            events.append(SystemEvent(row.customer_id, tracking.OUTCOMES["failed"], f"failed:{code}", now,
                                      {**props, "status": "failed"}))  # fmt: skip
            withdrawn.append(row.key)  # it never reached the customer: it uses no contact budget
        if row.journey_id is not None and row.version is not None:
            stats[(row.journey_id, row.version, row.node_id or "", row.arm or "", v.outcome)] += 1
    outbox.write(session, changes, only_status=WAITING)
    history.withdraw(session, withdrawn)
    record(session, events, received_at=now)
    add_stats(session, stats)
    return done


def _when(at: datetime | None, row: Waiting, now: datetime) -> datetime:
    """WeCom's send time when it is plausible (after the row was queued, not in the future), else now."""
    return at if at is not None and row.queued_at <= at <= now else now


# --- the job -------------------------------------------------------------------------------------------


def run_confirmations(factory: Any, now: datetime) -> int:
    """Read WeCom mass sends' confirmation state back into the outbox (sent / failed / expired)."""
    settings = get_settings()
    expiry = timedelta(hours=settings.wecom_confirmation_expiry_hours)
    with factory() as session:
        tasks = waiting_tasks(session, settings.wecom_confirmation_max_tasks)
    if not tasks:
        return 0
    source = wecom_source()
    verdicts: list[Verdict] = []
    for msgid, rows in tasks.items():
        senders = {r.sender for r in rows if r.sender}
        state: TaskState | None = None
        if source is not None and msgid is not None and len(senders) == 1:
            try:
                state = ask(source, msgid, senders.pop())
            except RateLimited as exc:
                log.warning("WeCom rate limit while reading mass-send confirmations: %s", exc)
                break
            if state.error:
                log.warning("WeCom confirmation of %s failed: %s", msgid, state.error)
        verdicts += judge(rows, state, now, expiry)
    with factory() as session, write_lock(session):
        done = apply(session, verdicts, max(now, clock.now()))
        session.commit()
    return done["delivered"] + done["failed"]
