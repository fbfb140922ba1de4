"""Customer and activity metrics: new customers, active customers, DAU/WAU/MAU and stickiness,
interactions, complaint rate and group activity. Activity is read from the daily rollups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Date, and_, case, distinct, func, select, type_coerce, union

from siyu.analytics.definitions import (
    COMPLAINT_SUBMITTED,
    ENGAGEMENT,
    PASSIVE_EVENTS,
    PASSIVE_ROLLUPS,
    Cell,
    Computed,
    Context,
    Definition,
    Series,
    cells,
    divide,
    register,
)
from siyu.analytics.sqltime import as_date, day_add, day_start, local_date
from siyu.customers.tables import Customer, CustomerStats, DailyEventCount
from siyu.events.system import system_source_id
from siyu.events.tables import Event

D = DailyEventCount.__table__.c


def _rollup_days(ctx: Context, back: int = 0) -> Any:
    return and_(D.day >= ctx.period.start - timedelta(days=back), D.day <= ctx.period.end)


def new_customers(ctx: Context) -> Computed:
    s, c = CustomerStats.__table__.c, Customer.__table__.c
    lo, hi = ctx.bounds
    b = ctx.bucket(ctx.local(s.first_seen_at))
    query = (
        select(b, func.count())
        .select_from(CustomerStats.__table__.join(Customer.__table__, c.id == s.customer_id))
        .where(c.merged_into_id.is_(None), s.first_seen_at >= lo, s.first_seen_at < hi)
    )
    query = ctx.restrict(query, s.customer_id)
    return Computed(cells(ctx.session.execute(ctx.group(query, b))))


def _distinct_customers(ctx: Context, condition: Any) -> Series:
    b = ctx.bucket(D.day)
    query = select(b, func.count(distinct(D.customer_id))).where(_rollup_days(ctx), condition)
    query = ctx.restrict(query, D.customer_id)
    return cells(ctx.session.execute(ctx.group(query, b)))


def active_condition() -> Any:
    return D.event.not_in(PASSIVE_ROLLUPS)


def _engagement(ctx: Context, back: int) -> tuple[Any, Any]:
    """(local day of, condition on) the message reactions stored as system events (not in the rollups)."""
    e = Event.__table__.c
    lo, hi = day_start(ctx.period.start - timedelta(days=back)), ctx.bounds[1]
    where = and_(
        e.name.in_(ENGAGEMENT),
        e.source_id == system_source_id(ctx.session),
        e.timestamp >= lo,
        e.timestamp < hi,
    )
    return local_date(ctx.kind, e.timestamp, lo, hi), where


def active_days(ctx: Context, back: int = 0) -> Any:
    """Distinct (customer_id, day) with an activity event, from `back` days before the period to its end:
    rollups of the customer's own events plus their message reactions."""
    rolled = select(D.customer_id.label("customer_id"), D.day.label("day")).where(
        _rollup_days(ctx, back), active_condition()
    )
    day, where = _engagement(ctx, back)
    e = Event.__table__.c
    engaged = select(e.customer_id.label("customer_id"), day.label("day")).where(where)
    rolled, engaged = ctx.restrict(rolled, D.customer_id), ctx.restrict(engaged, e.customer_id)
    return union(rolled, engaged).subquery("active_days")


def _active_series(ctx: Context) -> Series:
    def build() -> Series:
        active = active_days(ctx)
        b = ctx.bucket(active.c.day)
        query = select(b, func.count(distinct(active.c.customer_id))).select_from(active)
        return cells(ctx.session.execute(ctx.group(query, b)))

    return ctx.remember("active_series", build)  # type: ignore[no-any-return]


def active_customers(ctx: Context) -> Computed:
    return Computed(_active_series(ctx))


def interactions(ctx: Context) -> Computed:
    b = ctx.bucket(D.day)
    query = select(b, func.sum(D.count)).where(_rollup_days(ctx), active_condition())
    out = cells(ctx.session.execute(ctx.group(ctx.restrict(query, D.customer_id), b)))
    day, where = _engagement(ctx, 0)
    e = Event.__table__.c
    be = ctx.bucket(day)
    engaged = ctx.restrict(select(be, func.count()).where(where), e.customer_id)
    for bucket, cell in cells(ctx.session.execute(ctx.group(engaged, be))).items():
        out.setdefault(bucket, Cell()).add(cell.numerator)
    return Computed(out)


def complaint_rate(ctx: Context) -> Computed:
    complained = _distinct_customers(ctx, D.event == COMPLAINT_SUBMITTED)
    return Computed(divide(complained, _active_series(ctx)))


def trailing_active(ctx: Context, window: int) -> dict[Any, int]:
    """Distinct active customers over the `window` days ending on each day of the period."""
    return ctx.remember(("trailing_active", window), lambda: _trailing(ctx, window))  # type: ignore[no-any-return]


def _trailing(ctx: Context, window: int) -> dict[Any, int]:
    """Each active day `a` of a customer covers the days a … a + window − 1; a customer's coverage
    starts at `a` or, when the previous active day `p` is closer than `window`, at p + window (so the
    stretches of one customer never overlap). Distinct customers on day d = stretches started by d minus
    stretches ended by d: one pass over the active days (a window function), a running sum in Python."""
    days = ctx.period.days()
    active = active_days(ctx, window - 1)
    previous = func.lag(active.c.day).over(partition_by=active.c.customer_id, order_by=active.c.day)
    pairs = select(active.c.day.label("day"), previous.label("prev")).subquery("pairs")
    after_previous = day_add(ctx.kind, pairs.c.prev, window)
    first = case(
        (pairs.c.prev.is_(None) | (pairs.c.day >= after_previous), pairs.c.day), else_=after_previous
    )
    start = type_coerce(first, Date).label("at")
    end = day_add(ctx.kind, pairs.c.day, window).label("at")
    change: dict[Any, int] = {}
    for expr, sign in ((start, 1), (end, -1)):
        for at, n in ctx.session.execute(select(expr, func.count()).select_from(pairs).group_by(expr)):
            key = as_date(at)
            change[key] = change.get(key, 0) + sign * int(n)
    running, out, moments = 0, {}, sorted(change)
    i = 0
    for d in days:
        while i < len(moments) and moments[i] <= d:
            running += change[moments[i]]
            i += 1
        out[d] = running
    return out


def _averaged(ctx: Context, window: int) -> Computed:
    series: Series = {}
    for day, count in trailing_active(ctx, window).items():
        series.setdefault(ctx.bucket_of(day), Cell(0.0, 0.0)).add(count, 1)
    return Computed(series)


def stickiness(ctx: Context) -> Computed:
    daily, monthly = trailing_active(ctx, 1), trailing_active(ctx, 30)
    series: Series = {}
    for day in ctx.period.days():
        series.setdefault(ctx.bucket_of(day), Cell(0.0, 0.0)).add(daily[day], monthly[day])
    return Computed(series)


def _group_events(ctx: Context) -> tuple[Any, Any, Any]:
    e = Event.__table__.c
    group_id = e.context["groupId"].as_string()
    lo, hi = ctx.bounds
    where = and_(
        e.timestamp >= lo,
        e.timestamp < hi,
        group_id.is_not(None),
        e.source_id != system_source_id(ctx.session),
        e.type.in_(("track", "page", "screen")),
        e.name.is_(None) | e.name.not_in(PASSIVE_EVENTS),
    )
    return e, group_id, where


def group_activity(ctx: Context) -> Computed:
    e, group_id, where = _group_events(ctx)
    b = ctx.bucket(ctx.local(e.timestamp))
    total = ctx.restrict(select(b, func.count()).where(where), e.customer_id)
    out = Computed(cells(ctx.session.execute(ctx.group(total, b))))
    top = ctx.restrict(select(group_id, func.count()).where(where), e.customer_id)
    top = top.group_by(group_id).order_by(func.count().desc(), group_id).limit(20)
    groups = [g for g, _ in ctx.session.execute(top)]
    if groups:
        per = ctx.restrict(
            select(b, group_id, func.count()).where(where, group_id.in_(groups)), e.customer_id
        )
        for day, gid, n in ctx.session.execute(ctx.group(per, b, group_id)):
            out.breakdown.setdefault(str(gid), {}).update(cells([(day, n)]))
    return out


def group_active_customers(ctx: Context) -> Computed:
    e, _group_id, where = _group_events(ctx)
    b = ctx.bucket(ctx.local(e.timestamp))
    query = ctx.restrict(select(b, func.count(distinct(e.customer_id))).where(where), e.customer_id)
    return Computed(cells(ctx.session.execute(ctx.group(query, b))))


register(
    Definition("new_customers", "New customers", "新增客户", "count",
               "customers first seen (earliest event) on a day of the bucket", None, new_customers),
    Definition("active_customers", "Active customers", "活跃客户", "count",
               "distinct customers with at least one activity event in the bucket", None, active_customers),
    Definition("dau", "Daily active customers (DAU)", "日活 DAU", "count",
               "sum over the bucket's days of customers active that day", "days in the bucket",
               lambda ctx: _averaged(ctx, 1)),
    Definition("wau", "Weekly active customers (WAU)", "周活 WAU", "count",
               "sum over the bucket's days of customers active in the 7 days ending that day",
               "days in the bucket", lambda ctx: _averaged(ctx, 7)),
    Definition("mau", "Monthly active customers (MAU)", "月活 MAU", "count",
               "sum over the bucket's days of customers active in the 30 days ending that day",
               "days in the bucket", lambda ctx: _averaged(ctx, 30)),
    Definition("stickiness", "Stickiness (DAU/MAU)", "粘性 DAU/MAU", "ratio",
               "sum over the bucket's days of DAU", "sum over the same days of MAU (30 days ending that day)",
               stickiness),
    Definition("interactions", "Interactions", "互动次数", "count",
               "activity events in the bucket", None, interactions),
    Definition("complaint_rate", "Complaint rate", "投诉率", "ratio",
               "distinct customers with a Complaint Submitted event in the bucket",
               "active customers in the bucket", complaint_rate),
    Definition("group_activity", "Group activity", "社群活跃度", "count",
               "customer events carrying context.groupId in the bucket", None, group_activity,
               dimension="group"),
    Definition("group_active_customers", "Group-active customers", "社群活跃客户", "count",
               "distinct customers with an event carrying context.groupId in the bucket", None,
               group_active_customers),
)  # fmt: skip
