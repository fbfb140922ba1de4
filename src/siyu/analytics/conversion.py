"""Outcome windows after a moment (entering a journey, being reached by a message): conversion per journey
(goal event within N days of entering) and the silent-customer wake-up rate (90-day-silent customers
reached by a message who acted within N days). Also the per-customer predicates experiments reuse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, func, not_, select
from sqlalchemy.orm import Session

from siyu.analytics.definitions import (
    ENGAGEMENT,
    JOURNEY_CONVERTED,
    JOURNEY_ENTERED,
    MESSAGE_DELIVERED,
    MESSAGE_SENT,
    PASSIVE_EVENTS,
    UNSUBSCRIBED,
    Cell,
    Computed,
    Context,
    Definition,
    register,
)
from siyu.analytics.sqltime import as_date, ts_add
from siyu.events.system import system_source_id
from siyu.events.tables import Event

E = Event.__table__.c


def activity_between(
    session: Session, customer: Any, after: Any, until: Any, *, inclusive: bool, exclude: tuple[str, ...] = ()
) -> Any:
    """EXISTS an activity event of `customer` in (after, until] (or [after, until) when `inclusive` is
    False: the window before a moment): their own events, or their reactions to messages."""
    a = Event.__table__.alias("act")
    lower = a.c.timestamp > after if inclusive else a.c.timestamp >= after
    upper = a.c.timestamp <= until if inclusive else a.c.timestamp < until
    own = and_(
        a.c.source_id != system_source_id(session),
        a.c.type.in_(("track", "page", "screen")),
        a.c.name.is_(None) | a.c.name.not_in((*PASSIVE_EVENTS, *exclude)),
    )
    return exists(
        select(a.c.id).where(a.c.customer_id == customer, lower, upper, own | a.c.name.in_(ENGAGEMENT))
    )


def silent_before(ctx_kind: str, session: Session, customer: Any, moment: Any, days: int) -> Any:
    return not_(activity_between(session, customer, ts_add(ctx_kind, moment, -days), moment, inclusive=False))


def acted_within(ctx_kind: str, session: Session, customer: Any, moment: Any, days: int) -> Any:
    """An activity other than unsubscribing (a negative reaction does not count as waking up)."""
    until = ts_add(ctx_kind, moment, days)
    return activity_between(session, customer, moment, until, inclusive=True, exclude=(UNSUBSCRIBED,))


def goal_within(ctx_kind: str, customer: Any, moment: Any, goal: str, days: int, journey: Any = None) -> Any:
    """EXISTS a `goal` event of `customer` in [moment, moment + days]. The goal `Journey Converted` (which
    the journey runner records when a journey's own goal is met) must name the same journey."""
    g = Event.__table__.alias("goal")
    conditions = [
        g.c.customer_id == customer,
        g.c.name == goal,
        g.c.timestamp >= moment,
        g.c.timestamp <= ts_add(ctx_kind, moment, days),
    ]
    if goal == JOURNEY_CONVERTED and journey is not None:
        conditions.append(g.c.properties["journey_id"].as_string() == journey)
    return exists(select(g.c.id).where(*conditions))


def journey_entries(ctx: Context) -> Any:
    """(journey_id, customer_id, entered_at) for the first entry of each customer in the period."""
    lo, hi = ctx.bounds
    journey = E.properties["journey_id"].as_string()
    query = select(
        journey.label("journey_id"), E.customer_id.label("customer_id"), func.min(E.timestamp).label("at")
    ).where(E.name == JOURNEY_ENTERED, E.timestamp >= lo, E.timestamp < hi, journey.is_not(None))
    return ctx.restrict(query, E.customer_id).group_by(journey, E.customer_id).subquery("entries")


def journey_conversion(ctx: Context) -> Computed:
    entries = journey_entries(ctx)
    c = entries.c
    won = goal_within(ctx.kind, c.customer_id, c.at, ctx.options.goal, ctx.options.window_days, c.journey_id)
    b = ctx.bucket(ctx.local(c.at))
    query = select(b, c.journey_id, func.sum(case((won, 1), else_=0)), func.count()).select_from(entries)
    out = Computed()
    for day, journey, converted, entered in ctx.session.execute(ctx.group(query, b, c.journey_id)):
        bucket = as_date(day)
        out.series.setdefault(bucket, Cell(0.0, 0.0)).add(float(converted or 0), float(entered))
        out.breakdown.setdefault(str(journey), {})[bucket] = Cell(float(converted or 0), float(entered))
    return out


def wakeup_rate(ctx: Context) -> Computed:
    lo, hi = ctx.bounds
    reach = select(E.customer_id.label("customer_id"), func.min(E.timestamp).label("at")).where(
        E.name.in_((MESSAGE_SENT, MESSAGE_DELIVERED)), E.timestamp >= lo, E.timestamp < hi
    )
    reached = ctx.restrict(reach, E.customer_id).group_by(E.customer_id).subquery("reached")
    r = reached.c
    silent = silent_before(ctx.kind, ctx.session, r.customer_id, r.at, ctx.options.silent_days)
    woke = acted_within(ctx.kind, ctx.session, r.customer_id, r.at, ctx.options.window_days)
    b = ctx.bucket(ctx.local(r.at))
    query = select(
        b, func.sum(case((and_(silent, woke), 1), else_=0)), func.sum(case((silent, 1), else_=0))
    ).select_from(reached)
    out = Computed()
    for day, woken, silent_n in ctx.session.execute(ctx.group(query, b)):
        if day is not None:
            out.series[as_date(day)] = Cell(float(woken or 0), float(silent_n or 0))
    return out


register(
    Definition("journey_conversion", "Journey conversion", "旅程转化率", "ratio",
               "of the denominator, customers who did the goal event within window_days after entering",
               "customers whose first Journey Entered of the period (per journey) is in the bucket",
               journey_conversion, dimension="journey", options=("goal", "window_days")),
    Definition("wakeup_rate", "Silent-customer wake-up rate", "沉默客户唤醒率", "ratio",
               "of the denominator, customers with an activity event (not unsubscribing) within "
               "window_days after being reached", "customers first reached by a message (Message Sent or "
               "Delivered) in the period, in this bucket, after silent_days without activity", wakeup_rate,
               options=("silent_days", "window_days")),
)  # fmt: skip
