"""Acquisition spend (entered by operators, per channel and period) and the metrics built on it:
CAC per channel and LTV/CAC. A channel is a source name or `live_code:<code>`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from siyu.analytics.definitions import Cell, Computed, Context, Definition, Series, divide, register
from siyu.analytics.population import clean, live_code_customers, source_customers
from siyu.analytics.sales import currency, new_customer_spend, spend_of_new_customers
from siyu.analytics.sqltime import check_day
from siyu.analytics.tables import AcquisitionSpend
from siyu.auth.tables import Source
from siyu.core.clock import now
from siyu.core.errors import ValidationFailed
from siyu.customers.tables import Customer

LIVE_CODE_PREFIX = "live_code:"


def check_channel(session: Session, channel: str) -> str:
    channel = clean(channel, "channel").strip()
    if not channel:
        raise ValidationFailed("channel must not be empty", field="channel")
    if channel.startswith(LIVE_CODE_PREFIX):
        if not channel[len(LIVE_CODE_PREFIX) :].strip():
            raise ValidationFailed("live_code: needs a code after the colon", field="channel")
        return channel
    if session.scalar(select(Source.id).where(Source.name == channel)) is None:
        raise ValidationFailed(
            f"channel {channel!r} is neither a source name nor live_code:<code>", field="channel"
        )
    return channel


def add_spend(
    session: Session,
    *,
    channel: str,
    period_start: date,
    period_end: date,
    amount_minor: int,
    currency_code: str,
    note: str | None,
    actor: str,
) -> AcquisitionSpend:
    check_day(period_start, "period_start")
    check_day(period_end, "period_end")
    if period_end < period_start:
        raise ValidationFailed("period_end is before period_start", field="period_end")
    if note is not None:
        clean(note, "note")
    if amount_minor < 0:
        raise ValidationFailed("amount_minor must not be negative", field="amount_minor")
    row = AcquisitionSpend(
        channel=check_channel(session, channel),
        period_start=period_start,
        period_end=period_end,
        amount_minor=amount_minor,
        currency=currency_code.upper(),
        note=note,
        created_at=now(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def list_spend(
    session: Session, start: date | None = None, end: date | None = None
) -> list[AcquisitionSpend]:
    query = select(AcquisitionSpend).order_by(AcquisitionSpend.period_start, AcquisitionSpend.id)
    if start is not None:
        query = query.where(AcquisitionSpend.period_end >= start)
    if end is not None:
        query = query.where(AcquisitionSpend.period_start <= end)
    return list(session.scalars(query))


def channel_people(session: Session, channel: str) -> Select[tuple[int]]:
    if channel.startswith(LIVE_CODE_PREFIX):
        return live_code_customers(channel[len(LIVE_CODE_PREFIX) :])
    found = session.scalar(select(Source.id).where(Source.name == channel))
    if found is None:
        return select(Customer.__table__.c.id).where(false())
    return source_customers(int(found))


def spend_series(ctx: Context) -> dict[str, Series]:
    """Spend per channel per bucket: each row spread evenly over its days, clipped to the period."""
    out: dict[str, Series] = {}
    rows = list_spend(ctx.session, ctx.period.start, ctx.period.end)
    for row in rows:
        if row.currency != currency(ctx):
            continue
        days = (row.period_end - row.period_start).days + 1
        per_day = row.amount_minor / days
        first, last = max(row.period_start, ctx.period.start), min(row.period_end, ctx.period.end)
        series = out.setdefault(row.channel, {})
        for i in range((last - first).days + 1):
            day = ctx.bucket_of(first + timedelta(days=i))
            series.setdefault(day, Cell()).add(per_day)
    return out


def _total(per_channel: dict[str, Series]) -> Series:
    total: Series = {}
    for series in per_channel.values():
        for day, cell in series.items():
            total.setdefault(day, Cell()).add(cell.numerator)
    return total


def _scoped(ctx: Context) -> dict[str, Series]:
    """Spend of the channels the filters name (source / live code); all spend otherwise."""
    spent: dict[str, Series] = ctx.remember("spend_series", lambda: spend_series(ctx))
    named = []
    if ctx.filters.source:
        named.append(ctx.filters.source)
    if ctx.filters.live_code:
        named.append(LIVE_CODE_PREFIX + ctx.filters.live_code)
    return {k: v for k, v in spent.items() if k in named} if named else spent


def _channel_spend(ctx: Context, channel: str) -> tuple[Series, Series]:
    def build() -> tuple[Series, Series]:
        return spend_of_new_customers(ctx, channel_people(ctx.session, channel))

    return ctx.remember(("channel_new_spend", channel), build)  # type: ignore[no-any-return]


def _per_channel(ctx: Context, spent: dict[str, Series], ltv: bool) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for channel, money in sorted(spent.items()):
        revenue, customers = _channel_spend(ctx, channel)
        out[channel] = divide(revenue, money) if ltv else divide(money, customers)
    return out


def cac(ctx: Context) -> Computed:
    spent = _scoped(ctx)
    _revenue, customers = new_customer_spend(ctx)
    return Computed(divide(_total(spent), customers), _per_channel(ctx, spent, ltv=False))


def ltv_cac(ctx: Context) -> Computed:
    spent = _scoped(ctx)
    revenue, _customers = new_customer_spend(ctx)
    return Computed(divide(revenue, _total(spent)), _per_channel(ctx, spent, ltv=True))


def public(row: AcquisitionSpend) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "period_start": row.period_start,
        "period_end": row.period_end,
        "amount_minor": row.amount_minor,
        "currency": row.currency,
        "note": row.note,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


register(
    Definition("cac", "Customer acquisition cost (CAC)", "获客成本 CAC", "minor",
               "acquisition spend spread over the bucket's days", "customers first seen in the bucket",
               cac, dimension="channel", options=("currency",)),
    Definition("ltv_cac", "LTV / CAC", "LTV/CAC", "ratio",
               "spend to the end of the period of customers first seen in the bucket (realised LTV × n)",
               "acquisition spend spread over the bucket's days (CAC × n)", ltv_cac, dimension="channel",
               options=("currency",)),
)  # fmt: skip
