"""Message metrics from the message events (`Message Sent|Delivered|Opened|Clicked|Replied`, `Unsubscribed`,
properties `message_id`, `channel`, `journey_id`): delivery, open, click, reply and unsubscribe rates and
campaign participation. Rates follow the messages sent in the bucket, whenever their outcome arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, distinct, func, select

from siyu.analytics.definitions import (
    ENGAGEMENT,
    MESSAGE_CLICKED,
    MESSAGE_DELIVERED,
    MESSAGE_OPENED,
    MESSAGE_REPLIED,
    MESSAGE_SENT,
    REACH,
    UNSUBSCRIBED,
    Cell,
    Computed,
    Context,
    Definition,
    Series,
    register,
)
from siyu.analytics.sqltime import as_date
from siyu.events.tables import Event

E = Event.__table__.c
REACHED = "distinct customers reached (a message sent, delivered, opened, clicked or replied) in the bucket"
OUTCOMES = (MESSAGE_DELIVERED, MESSAGE_OPENED, MESSAGE_CLICKED, MESSAGE_REPLIED)


def _prop(name: str) -> Any:
    return E.properties[name].as_string()


def _flag(name: str) -> Any:
    return func.max(case((E.name == name, 1), else_=0))


def message_outcomes(ctx: Context) -> list[tuple[Any, str, int, int, int, int, int]]:
    """Per (bucket, channel): messages sent, delivered, opened, clicked, replied. A message with an
    open, click or reply counts as delivered even without a delivery receipt."""
    return ctx.remember("message_outcomes", lambda: _outcomes(ctx))  # type: ignore[no-any-return]


def _outcomes(ctx: Context) -> list[tuple[Any, str, int, int, int, int, int]]:
    lo, hi = ctx.bounds
    mid = _prop("message_id")
    sent = select(
        mid.label("mid"), func.min(E.timestamp).label("ts"), func.max(_prop("channel")).label("channel")
    ).where(E.name == MESSAGE_SENT, E.timestamp >= lo, E.timestamp < hi, mid.is_not(None))
    sent = ctx.restrict(sent, E.customer_id).group_by(mid).subquery("sent")
    outcome = (
        select(mid.label("mid"), *(_flag(n).label(n.split()[-1].lower()) for n in OUTCOMES))
        .where(E.name.in_(OUTCOMES), E.timestamp >= lo, mid.is_not(None))
        .group_by(mid)
        .subquery("outcome")
    )
    o = outcome.c
    engaged = func.coalesce(func.max(o.opened, o.clicked, o.replied), 0)
    if ctx.kind == "postgresql":
        engaged = func.coalesce(func.greatest(o.opened, o.clicked, o.replied), 0)
    delivered = case((func.coalesce(o.delivered, 0) + engaged > 0, 1), else_=0)
    b = ctx.bucket(ctx.local(sent.c.ts))
    channel = func.coalesce(sent.c.channel, "")
    query = select(
        b,
        channel,
        func.count(),
        func.sum(delivered),
        func.sum(func.coalesce(o.opened, 0)),
        func.sum(func.coalesce(o.clicked, 0)),
        func.sum(func.coalesce(o.replied, 0)),
    ).select_from(sent.outerjoin(outcome, o.mid == sent.c.mid))
    rows = ctx.session.execute(ctx.group(query, b, channel))
    return [(r[0], str(r[1]), *(int(v or 0) for v in r[2:])) for r in rows]  # type: ignore[misc]


def _rate(top: int, bottom: int | None) -> Callable[[Context], Computed]:
    """A metric from two columns of message_outcomes (2 = sent … 6 = replied); bottom None = a count."""

    def compute(ctx: Context) -> Computed:
        out = Computed()
        for day, channel, *counts in message_outcomes(ctx):
            bucket = as_date(day)
            row = (0, 0, *counts)
            denominator = None if bottom is None else row[bottom]
            out.series.setdefault(bucket, Cell(0.0, None if bottom is None else 0.0)).add(
                row[top], denominator
            )
            if channel:
                cells = out.breakdown.setdefault(channel, {})
                cells.setdefault(bucket, Cell(0.0, None if bottom is None else 0.0)).add(
                    row[top], denominator
                )
        return out

    return compute


def _customers_with(
    ctx: Context, names: tuple[str, ...], by_channel: bool
) -> tuple[Series, dict[str, Series]]:
    lo, hi = ctx.bounds
    b = ctx.bucket(ctx.local(E.timestamp))
    channel = func.coalesce(_prop("channel"), "")
    where = and_(E.name.in_(names), E.timestamp >= lo, E.timestamp < hi)
    total: Series = {}
    query = ctx.restrict(select(b, func.count(distinct(E.customer_id))).where(where), E.customer_id)
    for day, n in ctx.session.execute(ctx.group(query, b)):
        if day is not None:
            total[as_date(day)] = Cell(float(n or 0))
    per: dict[str, Series] = {}
    if by_channel:
        query = ctx.restrict(
            select(b, channel, func.count(distinct(E.customer_id))).where(where), E.customer_id
        )
        for day, ch, n in ctx.session.execute(ctx.group(query, b, channel)):
            if ch:
                per.setdefault(str(ch), {})[as_date(day)] = Cell(float(n or 0))
    return total, per


def _ratio_of_customers(top: tuple[str, ...], bottom: tuple[str, ...]) -> Callable[[Context], Computed]:
    def compute(ctx: Context) -> Computed:
        num, num_by = _customers_with(ctx, top, by_channel=True)
        den, den_by = _customers_with(ctx, bottom, by_channel=True)
        out = Computed(_pair(num, den))
        for channel in sorted(set(num_by) | set(den_by)):
            out.breakdown[channel] = _pair(num_by.get(channel, {}), den_by.get(channel, {}))
        return out

    return compute


def _pair(top: Series, bottom: Series) -> Series:
    return {
        day: Cell(top[day].numerator if day in top else 0.0, bottom[day].numerator if day in bottom else 0.0)
        for day in sorted(set(top) | set(bottom))
    }


register(
    Definition("messages_sent", "Messages sent", "发送消息数", "count",
               "distinct message_id of Message Sent events in the bucket", None, _rate(2, None),
               dimension="channel"),
    Definition("delivery_rate", "Delivery rate", "送达率", "ratio",
               "messages sent in the bucket that were delivered (receipt, open, click or reply)",
               "messages sent in the bucket", _rate(3, 2), dimension="channel"),
    Definition("open_rate", "Open rate", "打开率", "ratio",
               "messages sent in the bucket that were opened", "those of them delivered", _rate(4, 3),
               dimension="channel"),
    Definition("click_rate", "Click rate", "点击率", "ratio",
               "messages sent in the bucket that were clicked", "those of them delivered", _rate(5, 3),
               dimension="channel"),
    Definition("reply_rate", "Reply rate", "回复率", "ratio",
               "messages sent in the bucket that were replied to", "those of them delivered", _rate(6, 3),
               dimension="channel"),
    Definition("unsubscribe_rate", "Unsubscribe rate", "退订率", "ratio",
               "distinct customers with an Unsubscribed event in the bucket",
               REACHED,
               _ratio_of_customers((UNSUBSCRIBED,), REACH), dimension="channel"),
    Definition("campaign_participation", "Campaign participation", "活动参与率", "ratio",
               "distinct customers who opened, clicked or replied to a message in the bucket",
               REACHED,
               _ratio_of_customers(ENGAGEMENT, REACH), dimension="channel"),
)  # fmt: skip
