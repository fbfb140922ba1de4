"""What the governor needs for a batch of customers, read in a few queries: contact history (the last 8
days of `message_log`), consent (`consents`), time zones (trait `timezone`), and the policy with the
operator's channel settings applied. Plus writing and withdrawing contact-history rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Boolean, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.columns import Json
from siyu.core.database import UTCDateTime
from siyu.core.settings import get_settings

from .localtime import check_zone
from .policy import ConsentStatus, ContactHistory, Policy, SentMessage, channel_family
from .sqlids import ids_value, insert_unnest, keys_value, text_in
from .tables import ChannelSetting

HISTORY_DAYS = 8  # the current local ISO week and day, whatever the zone


def contact_history(
    session: Session, customer_ids: Iterable[int], now: datetime
) -> dict[int, ContactHistory]:
    """customer id → their sends of the last 8 days (every customer asked for is present)."""
    ids = sorted(set(customer_ids))
    sent: dict[int, list[SentMessage]] = {cid: [] for cid in ids}
    sql = "SELECT customer_id, at, channel, purpose, mass FROM message_log WHERE {in} AND at >= :since"
    query = text_in(session, sql, "customer_id").columns(
        customer_id=BigInteger(), at=UTCDateTime(), mass=Boolean()
    )
    since = fastsql.db_time(fastsql.dialect(session), now - timedelta(days=HISTORY_DAYS))
    for cid, at, channel, purpose, mass in session.execute(
        query, {"ids": ids_value(session, ids), "since": since}
    ):
        sent[int(cid)].append(SentMessage(at, channel, purpose, bool(mass)))
    return {cid: ContactHistory(tuple(rows)) for cid, rows in sent.items()}


def consents(
    session: Session, customer_ids: Iterable[int]
) -> dict[int, list[tuple[str, str, ConsentStatus]]]:
    """customer id → [(channel, purpose, status)] as recorded."""
    out: dict[int, list[tuple[str, str, ConsentStatus]]] = {}
    query = text_in(
        session, "SELECT customer_id, channel, purpose, status FROM consents WHERE {in}", "customer_id"
    )
    for cid, channel, purpose, status in session.execute(query, {"ids": ids_value(session, customer_ids)}):
        out.setdefault(int(cid), []).append((channel, purpose, status))
    return out


def customer_timezones(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's IANA zone from the trait `timezone`, else the brand zone."""
    default = get_settings().timezone
    out = dict.fromkeys(customer_ids, default)
    sql = "SELECT customer_id, value FROM traits WHERE name = 'timezone' AND {in}"
    query = text_in(session, sql, "customer_id").columns(value=Json)
    for cid, value in session.execute(query, {"ids": ids_value(session, out)}):
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


_LOG_COLUMNS = ("key", "customer_id", "channel", "purpose", "mass", "journey_id", "at")
_LOG_TYPES = list(
    zip(_LOG_COLUMNS, ("text", "bigint", "text", "text", "bool", "int", "timestamptz"), strict=True)
)


def log_sends(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record messages handed to a channel (`key`, `customer_id`, `channel`, `purpose`, `mass`,
    `journey_id`, `at`); idempotent by key."""
    if not rows:
        return
    kind = fastsql.dialect(session)
    values = [
        (r["key"], r["customer_id"], r["channel"], r["purpose"], bool(r["mass"]), r["journey_id"],
         fastsql.db_time(kind, r["at"]))
        for r in sorted(rows, key=lambda r: str(r["key"]))
    ]  # fmt: skip
    if kind == "postgresql":
        insert_unnest(session, "message_log", _LOG_TYPES, values, " ON CONFLICT (key) DO NOTHING")
        return
    sql = fastsql.insert_sql(kind, "message_log", _LOG_COLUMNS) + " ON CONFLICT (key) DO NOTHING"
    fastsql.run_many(session, sql, values)


def withdraw(session: Session, keys: Iterable[str]) -> None:
    """Forget sends the channel refused: they did not reach the customer, so they use no budget."""
    wanted = sorted(set(keys))
    if wanted:
        delete = text_in(session, "DELETE FROM message_log WHERE {in}", "key", "keys")
        session.execute(delete, {"keys": keys_value(session, wanted)})
