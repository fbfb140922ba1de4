"""What the governor needs for a batch of customers, read in a few queries: contact history (the last 8
days of `message_log`), consent (`consents`), time zones (trait `timezone`), and the policy with the
operator's channel settings applied. Plus writing and withdrawing contact-history rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.consent.tables import Consent
from siyu.core.database import chunks, insert_for
from siyu.core.settings import get_settings
from siyu.customers.tables import Trait

from .localtime import check_zone
from .policy import ConsentStatus, ContactHistory, Policy, SentMessage, channel_family
from .tables import ChannelSetting, MessageLog

HISTORY_DAYS = 8  # the current local ISO week and day, whatever the zone


def contact_history(
    session: Session, customer_ids: Iterable[int], now: datetime
) -> dict[int, ContactHistory]:
    """customer id → their sends of the last 8 days (every customer asked for is present)."""
    ids = sorted(set(customer_ids))
    sent: dict[int, list[SentMessage]] = {cid: [] for cid in ids}
    m = MessageLog.__table__.c
    since = now - timedelta(days=HISTORY_DAYS)
    for part in chunks(ids, 1000):
        query = select(m.customer_id, m.at, m.channel, m.purpose, m.mass).where(
            m.customer_id.in_(part), m.at >= since
        )
        for cid, at, channel, purpose, mass in session.execute(query):
            sent[int(cid)].append(SentMessage(at, channel, purpose, bool(mass)))
    return {cid: ContactHistory(tuple(rows)) for cid, rows in sent.items()}


def consents(
    session: Session, customer_ids: Iterable[int]
) -> dict[int, list[tuple[str, str, ConsentStatus]]]:
    """customer id → [(channel, purpose, status)] as recorded."""
    out: dict[int, list[tuple[str, str, ConsentStatus]]] = {}
    c = Consent.__table__.c
    for part in chunks(sorted(set(customer_ids)), 1000):
        query = select(c.customer_id, c.channel, c.purpose, c.status).where(c.customer_id.in_(part))
        for cid, channel, purpose, status in session.execute(query):
            out.setdefault(int(cid), []).append((channel, purpose, status))
    return out


def customer_timezones(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's IANA zone from the trait `timezone`, else the brand zone."""
    default = get_settings().timezone
    out = dict.fromkeys(customer_ids, default)
    t = Trait.__table__.c
    for part in chunks(sorted(out), 1000):
        query = select(t.customer_id, t.value).where(t.name == "timezone", t.customer_id.in_(part))
        for cid, value in session.execute(query):
            try:
                out[int(cid)] = check_zone(value) if isinstance(value, str) else default
            except ValueError:
                continue
    return out


def channel_settings(session: Session) -> dict[str, ChannelSetting]:
    return {row.name: row for row in session.scalars(select(ChannelSetting))}


def policy(settings_rows: Mapping[str, ChannelSetting]) -> Policy:
    """The governor's policy from settings, with each channel family's operator quotas (the lowest of the
    family's channels wins, e.g. sms_aliyun and sms_tencent both count as `sms`)."""
    base = Policy.from_settings(get_settings())
    overrides: dict[str, int] = {}
    for name, row in settings_rows.items():
        family = channel_family(name)
        for key, limit in ((family, row.per_customer_daily), (f"{family}_mass", row.mass_per_customer_daily)):
            if limit is not None:
                overrides[key] = min(limit, overrides.get(key, limit))
    return replace(base, daily_quotas={**base.daily_quotas, **overrides})


def log_sends(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record messages handed to a channel (`key`, `customer_id`, `channel`, `purpose`, `mass`,
    `journey_id`, `at`); idempotent by key."""
    if not rows:
        return
    kind = session.get_bind().dialect.name
    stmt = insert_for(kind, MessageLog.__table__).on_conflict_do_nothing(index_elements=["key"])
    for part in chunks(sorted(rows, key=lambda r: str(r["key"])), 500):
        session.execute(stmt, [dict(r) for r in part])


def withdraw(session: Session, keys: Iterable[str]) -> None:
    """Forget sends the channel refused: they did not reach the customer, so they use no budget."""
    wanted = sorted(set(keys))
    for part in chunks(wanted, 1000):
        session.execute(delete(MessageLog).where(MessageLog.key.in_(part)))
