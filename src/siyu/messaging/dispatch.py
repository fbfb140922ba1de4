"""Dispatching the outbox, a batch at a time, in three steps:

1. One transaction: claim due rows (and rows whose `sending` lease ran out), lock their customers
   (PostgreSQL advisory locks, in id order), let the governor decide with the contact history and consent,
   render, then mark each message that may go `sending` (attempt + 1, lease) with its text and log it in
   the contact history; deferrals, drops and failures are written with their reasons. Commit.
2. No transaction: hand the messages to their channels concurrently, each with its idempotency key.
3. One transaction: record each result — only on rows still `sending` with this attempt.

Exactly once: a crash after 1 leaves rows `sending`; when the lease ends they are sent again with the
same key and the same stored text, and the receiver (webhook sink, memory channel, provider) drops the
repeat. See docs/journeys-runtime.md.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.channels import registry
from siyu.channels.base import BatchChannel, OutboundMessage, SendResult, send_all
from siyu.core import clock
from siyu.core.database import write_lock
from siyu.core.settings import get_settings
from siyu.events.system import SystemEvent, record
from siyu.journeys.store import StatKey, add_stats

from . import history, outbox, recipients, tracking, webhook_calls
from .decisions import Verdict, govern, outbound, prepare
from .policy import ConsentView
from .rendering import BatchRenderer

SessionFactory = Any
_CUSTOMER_LOCKS = 0x6F75_7462  # advisory-lock namespace: one governor decision per customer at a time
EVENT = {
    "send": "Message Sent",
    "defer": "Message Deferred",
    "drop": "Message Dropped",
    "fail": "Message Failed",
}
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@dataclass
class Attempt:
    id: int
    key: str
    attempts: int
    customer_id: int
    stat: tuple[int, int, str, str] | None  # journey, version, node, arm
    props: dict[str, Any]
    message: OutboundMessage | None = None
    webhook: dict[str, Any] | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(get_settings().outbox_send_threads, thread_name_prefix="siyu-send")
        return _pool


def _stat(row: outbox.OutboxRow) -> tuple[int, int, str, str] | None:
    if row.journey_id is None or row.version is None:
        return None
    return (row.journey_id, row.version, row.node_id or "", row.arm or "")


class Ledger:
    """Row changes, contact-history rows, timeline events and counters gathered in one transaction."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.changes: list[dict[str, Any]] = []
        self.logged: list[dict[str, Any]] = []
        self.withdrawn: list[str] = []
        self.events: list[SystemEvent] = []
        self.stats: Counter[StatKey] = Counter()

    def event(
        self, row_key: str, customer_id: int, outcome: str, props: dict[str, Any], suffix: str = ""
    ) -> None:
        key = f"msg:{tracking.open_code(row_key)}:{outcome}{suffix}"
        self.events.append(SystemEvent(customer_id, EVENT[outcome], key, self.now, props))

    def count(self, stat: tuple[int, int, str, str] | None, metric: str) -> None:
        if stat is not None:
            self.stats[(*stat, metric)] += 1

    def write(self, session: Session) -> None:
        outbox.write(session, self.changes)
        history.log_sends(session, self.logged)
        history.withdraw(session, self.withdrawn)
        record(session, self.events, received_at=self.now)
        add_stats(session, self.stats)


def _lock_customers(session: Session, ids: Sequence[int]) -> None:
    if session.get_bind().dialect.name == "postgresql" and ids:
        keys = sorted({int(i) % 2**31 for i in ids})
        sql = (
            "SELECT count(pg_advisory_xact_lock(:ns, k))"
            " FROM (SELECT unnest(CAST(:keys AS int[])) AS k ORDER BY 1) s"
        )
        session.execute(text(sql), {"ns": _CUSTOMER_LOCKS, "keys": keys})


def _decide(
    session: Session, rows: Sequence[outbox.OutboxRow], ledger: Ledger, lease: datetime
) -> list[Attempt]:
    now = ledger.now
    customers = sorted({r.customer_id for r in rows})
    _lock_customers(session, customers)
    settings_rows = history.channel_settings(session)
    consents = {cid: ConsentView.of(v) for cid, v in history.consents(session, customers).items()}
    verdicts = govern(rows, history.contact_history(session, customers, now), consents,
                      history.policy(settings_rows), settings_rows, now)  # fmt: skip
    sending = [v for v in verdicts if v.outcome == "send"]
    addresses = {
        channel: recipients.addresses(
            session, channel, [v.row.customer_id for v in sending if v.row.channel == channel]
        )
        for channel in {v.row.channel for v in sending if v.row.channel != outbox.WEBHOOK_CALL}
    }
    renderer = BatchRenderer(session, [v.row for v in sending if v.row.channel != outbox.WEBHOOK_CALL], now)
    prepare(verdicts, renderer, addresses)
    tracking.save_links(session, [link for v in verdicts if v.rendered for link in v.rendered.links])
    return [a for v in verdicts if (a := _apply(v, ledger, lease)) is not None]


def _apply(v: Verdict, ledger: Ledger, lease: datetime) -> Attempt | None:
    row, now = v.row, ledger.now
    reason = {
        "reason_code": v.reason[:32],
        "reason_zh": v.zh[:500],
        "reason_en": v.en[:500],
        "updated_at": now,
    }
    props = {**tracking.message_properties(row), "reason": v.reason, "reason_zh": v.zh, "reason_en": v.en}
    if v.outcome == "send":
        r, attempts = v.rendered, row.attempts + 1
        ledger.changes.append({"id": row.id, "status": "sending", "attempts": attempts, "lease_until": lease,
                               "body": r.body if r else None, "subject": r.subject if r else None,
                               "html_body": r.html_body if r else None, "params": v.extras,
                               "track_code": r.track_code if r else None,
                               "template_version": r.template_version if r else None, **reason})  # fmt: skip
        if row.channel != outbox.WEBHOOK_CALL:
            ledger.logged.append(
                {"key": row.key, "customer_id": row.customer_id, "channel": row.channel,
                 "purpose": row.purpose, "mass": row.mass, "journey_id": row.journey_id, "at": now}
            )  # fmt: skip
        webhook = dict(row.context) if row.channel == outbox.WEBHOOK_CALL else None
        return Attempt(row.id, row.key, attempts, row.customer_id, _stat(row), props, v.message, webhook)
    if v.outcome == "defer":
        ledger.changes.append({"id": row.id, "status": "deferred", "next_attempt_at": v.at,
                               "deferrals": row.deferrals + 1, **reason})  # fmt: skip
        until = v.at.isoformat() if v.at else None
        ledger.event(row.key, row.customer_id, "defer", {**props, "until": until}, f":{row.deferrals + 1}")
        if row.deferrals == 0:
            ledger.count(_stat(row), "deferred")
        return None
    status, metric = ("dropped", "dropped") if v.outcome == "drop" else ("failed", "failed")
    ledger.changes.append({"id": row.id, "status": status, **reason})
    ledger.event(row.key, row.customer_id, v.outcome, props)
    ledger.count(_stat(row), metric)
    return None


def _resend(
    session: Session, rows: Sequence[outbox.OutboxRow], ledger: Ledger, lease: datetime
) -> list[Attempt]:
    """Rows a dead worker left `sending`: the same stored text, the same key, one more attempt."""
    out: list[Attempt] = []
    for channel in sorted({r.channel for r in rows}):
        group = [r for r in rows if r.channel == channel]
        found = (
            {}
            if channel == outbox.WEBHOOK_CALL
            else recipients.addresses(session, channel, [r.customer_id for r in group])
        )
        for row in group:
            ledger.changes.append(
                {"id": row.id, "attempts": row.attempts + 1, "lease_until": lease, "updated_at": ledger.now}
            )
            props = {**tracking.message_properties(row), "reason": "allowed", "resent": True}
            message = None
            if channel != outbox.WEBHOOK_CALL and row.customer_id in found:
                message = outbound(
                    row, found[row.customer_id], row.body, row.subject, row.html_body, row.params or {}
                )
            webhook = dict(row.context) if channel == outbox.WEBHOOK_CALL else None
            out.append(
                Attempt(
                    row.id, row.key, row.attempts + 1, row.customer_id, _stat(row), props, message, webhook
                )
            )
    return out


class Concurrency:
    """How many send threads a channel gets: the setting at first, then adjusted after each batch by how
    busy the threads kept the interpreter. Sends to a receiver that answers in microseconds are CPU-bound:
    beyond a few threads they only queue for the GIL (measured: 16 threads cost twice the CPU per message
    of 4 against the local sink), so the count halves while the threads' CPU time fills the batch's wall
    time, and doubles again, up to the setting, when they mostly wait for answers (a slow provider)."""

    BUSY, IDLE, MIN = 0.7, 0.35, 2

    def __init__(self) -> None:
        self.threads: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, channel: str, ceiling: int) -> int:
        with self._lock:
            return min(self.threads.get(channel, ceiling), ceiling)

    def observe(
        self, channel: str, used: int, messages: int, cpu_s: float, wall_s: float, ceiling: int
    ) -> None:
        """After a batch: `used` threads sent `messages` in `wall_s`, spending `cpu_s` of thread CPU."""
        if wall_s <= 0 or messages < 2 * used:
            return
        busy = cpu_s / wall_s
        with self._lock:
            if busy > self.BUSY and used > self.MIN:
                self.threads[channel] = max(self.MIN, used // 2)
            elif busy < self.IDLE and used < ceiling:
                self.threads[channel] = min(ceiling, used * 2)


concurrency = Concurrency()


def _deliver(attempts: Sequence[Attempt]) -> list[SendResult]:
    """Send concurrently: a batch channel gets one call per channel; other messages are split into one
    slice per send thread (`Concurrency`), each slice sent in order (a future per message costs more
    than a send)."""
    pool, ceiling = _threads(), get_settings().outbox_send_threads
    results: dict[int, SendResult] = {}
    by_channel: dict[str, list[tuple[Attempt, OutboundMessage]]] = {}
    work: list[tuple[list[int], str | None, Future[tuple[list[SendResult], float]]]] = []
    used: dict[str, tuple[int, int]] = {}  # channel → (threads, messages)
    calls = [a for a in attempts if a.webhook is not None]
    for a in attempts:
        if a.webhook is None and a.message is None:
            results[a.id] = SendResult.permanent("no_address", "the customer has no address on this channel")
        elif a.message is not None:
            by_channel.setdefault(a.message.channel, []).append((a, a.message))
    for part in _slices(calls, ceiling):
        work.append(([a.id for a in part], None, pool.submit(_timed, _call_slice, part)))
    started = time.perf_counter()
    for name, group in by_channel.items():
        channel = registry.get(name)
        if isinstance(channel, BatchChannel):
            messages = [m for _, m in group]
            work.append(([a.id for a, _ in group], None, pool.submit(_timed, send_all, channel, messages)))
            continue
        threads = concurrency.get(name, ceiling)
        used[name] = (threads, len(group))
        for part in _slices(group, threads):
            messages = [m for _, m in part]
            work.append(([a.id for a, _ in part], name, pool.submit(_timed, _send_slice, channel, messages)))
    cpu: dict[str, float] = dict.fromkeys(used, 0.0)
    for ids, owner, future in work:
        try:
            sent, spent = future.result()
            results.update(zip(ids, sent, strict=True))
        except Exception as exc:  # a bug in a channel: its messages fail, the batch goes on
            failed = SendResult.permanent("channel_error", str(exc)[:300])
            results.update((i, failed) for i in ids)
            continue
        if owner is not None:
            cpu[owner] += spent
    wall = time.perf_counter() - started
    for name, (threads, count) in used.items():
        concurrency.observe(name, threads, count, cpu[name], wall, ceiling)
    return [results[a.id] for a in attempts]


def _timed(send: Any, *args: Any) -> tuple[list[SendResult], float]:
    """`send(*args)`'s results, and the CPU time this thread spent on them."""
    cpu = time.thread_time()
    out: list[SendResult] = send(*args)
    return out, time.thread_time() - cpu


def _call_slice(part: Sequence[Attempt]) -> list[SendResult]:
    return [webhook_calls.call(a.key, a.webhook) for a in part]


def _send_slice(channel: Any, messages: Sequence[OutboundMessage]) -> list[SendResult]:
    return [_safe_send(channel, m) for m in messages]


def _slices(items: Sequence[Any], count: int) -> list[Sequence[Any]]:
    size = max(1, -(-len(items) // count))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _safe_send(channel: Any, message: OutboundMessage) -> SendResult:
    try:
        result: SendResult = channel.send(message)
        return result
    except Exception as exc:  # channels return provider failures; an exception is a bug or bad input
        return SendResult.permanent("channel_error", f"{type(exc).__name__}: {exc}"[:300])


def _record(factory: SessionFactory, attempts: Sequence[Attempt], results: Sequence[SendResult]) -> None:
    """Write each result on its row, only while the row is still `sending` with this attempt (a later
    attempt, after our lease ran out, owns it otherwise); timeline events and counters for those rows."""
    settings = get_settings()
    with factory() as session, write_lock(session):
        now = clock.now()
        ledger = Ledger(now)
        changes: list[tuple[int, dict[str, Any]]] = []
        for a, r in zip(attempts, results, strict=True):
            base = {"id": a.id, "lease_until": None, "updated_at": now}
            if r.ok:
                status = "sent" if r.status == "sent" else "queued_for_confirmation"
                changes.append(
                    (
                        a.attempts,
                        {**base, "status": status, "provider_id": r.provider_message_id, "sent_at": now},
                    )
                )
                continue
            why = {"reason_code": (r.error_code or "error")[:32], "reason_en": (r.error_message or "")[:500],
                   "reason_zh": f"发送失败:{r.error_message or r.error_code}"[:500]}  # fmt: skip
            if r.status == "failed_retryable" and a.attempts < settings.outbox_max_attempts:
                wait = max(settings.outbox_retry_base_s * 2 ** (a.attempts - 1), r.retry_after_s or 0.0)
                retry = now + timedelta(seconds=min(wait, 86400))
                changes.append((a.attempts, {**base, **why, "status": "pending", "next_attempt_at": retry}))
                continue
            changes.append((a.attempts, {**base, **why, "status": "failed"}))
        done = outbox.settle(session, changes)
        for a, (_, change) in zip(attempts, changes, strict=True):
            if a.id not in done:
                continue
            status = change["status"]
            if status in ("sent", "queued_for_confirmation"):
                ledger.event(a.key, a.customer_id, "send", {**a.props, "status": status})
                ledger.count(a.stat, "sent")
                continue
            ledger.withdrawn.append(a.key)
            if status == "failed":
                props = {**a.props, "reason": change["reason_code"], "reason_en": change["reason_en"]}
                ledger.event(a.key, a.customer_id, "fail", props)
                ledger.count(a.stat, "failed")
        ledger.write(session)
        session.commit()


def dispatch_batch(factory: SessionFactory, now: datetime, size: int | None = None) -> int:
    """Claim, decide, send and record one batch; returns the rows handled (0: nothing due)."""
    settings = get_settings()
    size = size or settings.runner_batch_size
    with factory() as session, write_lock(session):
        lease = now + timedelta(seconds=settings.outbox_lease_s)
        ledger = Ledger(now)
        stuck = outbox.claim_stuck(session, now, size)
        fresh = outbox.claim_due(session, now, size - len(stuck)) if len(stuck) < size else []
        if not stuck and not fresh:
            return 0
        attempts = _resend(session, stuck, ledger, lease) + (
            _decide(session, fresh, ledger, lease) if fresh else []
        )
        ledger.write(session)
        session.commit()
    if attempts:
        _record(factory, attempts, _deliver(attempts))
    return len(stuck) + len(fresh)
