"""Point-in-time customer features for the prediction models, read set-based (one grouped query each,
SQLite and PostgreSQL): purchase history, activity windows from the daily rollups, tag counts.

Everything is "as of" a moment, so the same code builds training features at T-N and scoring features
at T. An order counts when completed, not cancelled and not fully refunded (the `customer_stats` rule);
its value is total - refunded; purchases are counted per brand-local day (the BTYD convention).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    distinct,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from siyu.analytics import sqltime
from siyu.analytics.definitions import MESSAGE_CLICKED, MESSAGE_OPENED, MESSAGE_REPLIED, PASSIVE_ROLLUPS
from siyu.commerce.tables import Order
from siyu.core import fastsql
from siyu.core.clock import as_utc
from siyu.customers.tables import Customer, DailyEventCount
from siyu.tags.tables import Tag, TagChange, TagGroup

IntArray = npt.NDArray[np.int64]
Vector = npt.NDArray[np.float64]
Keyed = tuple[IntArray, Vector]  # (sorted customer ids, one value each)
ENGAGED = (MESSAGE_OPENED, MESSAGE_CLICKED, MESSAGE_REPLIED)
WINDOWS = (7, 30, 90)
TAG_GROUP = "预测"  # the predictive tags siyu writes; never fed back into the models
EPOCH = date(1970, 1, 1)


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


def date_number(kind: str, expr: Any) -> ColumnElement[int]:
    """Days since 1970-01-01 of a DATE expression (SQLite: ISO text)."""
    if kind == "postgresql":
        return type_coerce(expr.op("-")(literal_column("DATE '1970-01-01'")), Integer)
    return type_coerce(cast(func.julianday(expr) - 2440587.5, Integer), Integer)


def counted(as_of: datetime) -> ColumnElement[bool]:
    o = Order.__table__.c
    return and_(
        o.completed_at.is_not(None), o.completed_at <= as_of, o.status.not_in(("cancelled", "refunded"))
    )


def _fixed_offset(lo: datetime, hi: datetime) -> int | None:
    """The brand zone's UTC offset in seconds if it is the same all through [lo, hi] (weekly samples: no
    zone keeps an offset for less than a week), else None."""
    zone = sqltime.brand_zone()
    offsets = set()
    at = lo
    while at < hi:
        offsets.add(at.astimezone(zone).utcoffset())
        at += timedelta(days=7)
    offsets.add(hi.astimezone(zone).utcoffset())
    if len(offsets) != 1:
        return None
    only = offsets.pop()
    return int(only.total_seconds()) if only is not None else 0


def purchase_day(session: Session, as_of: datetime) -> ColumnElement[int] | None:
    """The brand-local day number of `orders.completed_at` (None when no order counts). SQLite with a
    fixed-offset zone (e.g. Asia/Shanghai): integer arithmetic on the epoch, twice as fast as date()."""
    lo = session.scalar(select(func.min(Order.__table__.c.completed_at)).where(counted(as_of)))
    if lo is None:
        return None
    kind = fastsql.dialect(session)
    col = Order.__table__.c.completed_at
    hi = as_of + timedelta(seconds=1)
    offset = _fixed_offset(as_utc(lo), hi) if kind == "sqlite" else None
    if offset is not None:
        epoch = cast(func.strftime(literal_column("'%s'"), col), Integer)
        return type_coerce(
            (epoch + literal_column(str(offset))).self_group().op("/")(literal_column("86400")), Integer
        )
    return date_number(kind, sqltime.local_date(kind, col, as_utc(lo), hi))


@dataclass(frozen=True)
class OrderHistory:
    """One row per customer with a counted order by `as_of`, sorted by customer id. Days are day numbers."""

    customer_id: IntArray
    first_day: IntArray
    last_day: IntArray
    purchase_days: IntArray  # distinct days with a purchase (x + 1)
    orders: IntArray
    total_minor: IntArray
    first_day_minor: IntArray  # spent on the first purchase day (left out of the repeat mean)

    def repeat_mean_minor(self) -> Vector:
        """Mean spend per repeat purchase day (0 without repeats): Gamma-Gamma's m_x."""
        repeats = self.purchase_days - 1
        spent = (self.total_minor - self.first_day_minor).astype(np.float64)
        return np.divide(spent, repeats, out=np.zeros(repeats.shape[0]), where=repeats > 0)


AMOUNT_BITS = 40  # a day's spend (minor units, clamped to 0..2^40-1) packed under its day number


def order_history(session: Session, as_of: datetime) -> OrderHistory:
    """Two grouped passes: (customer, day) totals, then per customer. The first day's amount rides in
    MIN(day · 2^40 + amount), so no self-join is needed."""
    o = Order.__table__.c
    day = purchase_day(session, as_of)
    if day is None:
        return OrderHistory(*(np.zeros(0, np.int64) for _ in range(7)))
    daily = (
        select(
            o.customer_id.label("cid"),
            day.label("day"),
            func.sum(o.total_minor - o.refunded_minor).label("amount"),
            func.count().label("n"),
        )
        .where(counted(as_of))
        .group_by(o.customer_id, day)
        .subquery("daily")
    )
    top = (1 << AMOUNT_BITS) - 1
    clamped = case((daily.c.amount < 0, 0), (daily.c.amount > top, top), else_=daily.c.amount)
    packed = cast(daily.c.day, BigInteger) * literal_column(str(1 << AMOUNT_BITS)) + clamped
    query = select(
        daily.c.cid,
        func.min(daily.c.day),
        func.max(daily.c.day),
        func.count(),
        func.sum(daily.c.n),
        func.sum(daily.c.amount),
        func.min(packed),
    ).group_by(daily.c.cid)
    table = int_table(session.execute(query).all(), 7)
    table[:, 6] &= top
    return OrderHistory(*(np.ascontiguousarray(table[:, i]) for i in range(7)))


def int_table(rows: Iterable[Any], columns: int) -> IntArray:
    """Result rows of integers as an (n, columns) array sorted by the first column (rows are flattened:
    `np.array` on SQLAlchemy rows probes each for array attributes, ten times slower)."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64)
    table = flat.reshape(-1, columns)
    return table[np.argsort(table[:, 0], kind="stable")]


def buyers_between(session: Session, start: datetime, end: datetime) -> IntArray:
    """Customers with a counted order completed in (start, end]."""
    o = Order.__table__.c
    query = select(o.customer_id).where(counted(end), o.completed_at > start).distinct()
    return np.sort(np.fromiter(session.scalars(query), dtype=np.int64))


def population(session: Session) -> IntArray:
    """Every customer not merged into another, sorted by id."""
    c = Customer.__table__.c
    query = select(c.id).where(c.merged_into_id.is_(None)).order_by(c.id)
    return np.fromiter(session.scalars(query), dtype=np.int64)


def activity(session: Session, as_of: datetime) -> dict[str, Keyed]:
    """Events in the last 7/30/90 local days, active days in 30/90, opens, clicks and replies in 90, and
    days since the last interaction (missing: never). Passive rollups (messages siyu sent, identify
    calls) are not interactions."""
    kind = fastsql.dialect(session)
    d = DailyEventCount.__table__.c
    today = sqltime.local_day_of(as_of)
    since = {w: today - timedelta(days=w) for w in WINDOWS}
    active = and_(d.event.not_in(PASSIVE_ROLLUPS), d.day <= today)
    columns: list[Any] = [func.sum(case((d.day > since[w], d.count), else_=0)) for w in WINDOWS]
    columns += [func.count(distinct(case((d.day > since[w], d.day)))) for w in (30, 90)]
    columns.append(func.sum(case((d.event.in_(ENGAGED), d.count), else_=0)))
    windowed = select(d.customer_id, *columns).where(active, d.day > since[90]).group_by(d.customer_id)
    table = int_table(session.execute(windowed).all(), 7)
    last = select(d.customer_id, date_number(kind, func.max(d.day))).where(active).group_by(d.customer_id)
    recent = int_table(session.execute(last).all(), 2)
    names = ("events_7d", "events_30d", "events_90d", "active_days_30d", "active_days_90d", "engaged_90d")
    out = {name: (table[:, 0], table[:, i + 1].astype(np.float64)) for i, name in enumerate(names)}
    out["days_since_interaction"] = (recent[:, 0], (epoch_day(today) - recent[:, 1]).astype(np.float64))
    return out


def tag_counts(session: Session, as_of: datetime) -> Keyed:
    """(customers, tags they carried at `as_of`) from the tag history; siyu's predictive tags excluded."""
    h = TagChange.__table__.c
    mine = select(Tag.id).join(TagGroup, TagGroup.id == Tag.group_id).where(TagGroup.name == TAG_GROUP)
    net = func.sum(case((h.action == "added", 1), else_=-1))
    query = (
        select(h.customer_id, net)
        .where(h.at <= as_of, h.tag_id.not_in(mine.scalar_subquery()))
        .group_by(h.customer_id)
    )
    table = int_table(session.execute(query).all(), 2)
    return table[:, 0], np.clip(table[:, 1], 0, None).astype(np.float64)


def align(ids: IntArray, keyed: Keyed, fill: float = 0.0) -> Vector:
    """Keyed values looked up for each of `ids`; `fill` where a customer has none."""
    keys, values = keyed
    out = np.full(ids.shape[0], fill, dtype=np.float64)
    if keys.shape[0] == 0 or ids.shape[0] == 0:
        return out
    at = np.clip(np.searchsorted(keys, ids), 0, keys.shape[0] - 1)
    hit = keys[at] == ids
    out[hit] = values[at[hit]]
    return out
