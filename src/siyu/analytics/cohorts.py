"""Retention cohorts: customers grouped by the month (or day, or week) of their first counted order or
first seen event; a cohort member is retained in period k if they ordered (first-order cohorts) or did an
activity event (first-seen cohorts) in the k-th period after the cohort's own. Periods end at `to`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session

from siyu.analytics import sales
from siyu.analytics.activity import active_days
from siyu.analytics.definitions import Context, Options
from siyu.analytics.population import Filters, population
from siyu.analytics.sqltime import Period, as_date, check_day
from siyu.commerce.tables import Order
from siyu.core.errors import ValidationFailed
from siyu.customers.tables import Customer, CustomerStats

CohortBy = Literal["first_order", "first_seen"]
Unit = Literal["day", "week", "month"]
MAX_PERIODS = {"day": 90, "week": 52, "month": 36}


def offset(cohort: date, when: date, unit: Unit) -> int:
    if unit == "month":
        return (when.year - cohort.year) * 12 + when.month - cohort.month
    days = (when - cohort).days
    return days if unit == "day" else days // 7


def period_start(cohort: date, k: int, unit: Unit) -> date:
    if unit == "month":
        months = cohort.month - 1 + k
        return date(cohort.year + months // 12, months % 12 + 1, 1)
    return cohort + timedelta(days=k if unit == "day" else 7 * k)


def retention(
    session: Session,
    *,
    by: CohortBy,
    unit: Unit,
    start: date,
    end: date,
    periods: int | None = None,
    filters: Filters | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """Cohorts starting in [start, end] (brand-local days) and their retention matrix."""
    check_day(start, "from")
    check_day(end, "to")
    if start > end:
        raise ValidationFailed("from is after to", field="from")
    limit = MAX_PERIODS[unit] if periods is None else periods
    if not 1 <= limit <= MAX_PERIODS[unit]:
        raise ValidationFailed(
            f"periods must be from 1 to {MAX_PERIODS[unit]} for unit={unit}", field="periods"
        )
    filters = filters or Filters()
    ctx = Context(
        session, Period(start, end), unit, filters, population(session, filters), Options(currency=currency)
    )
    lo, hi = ctx.bounds
    s, c = CustomerStats.__table__.c, Customer.__table__.c
    first = s.first_order_at if by == "first_order" else s.first_seen_at
    cohort_day = ctx.bucket(ctx.local(first)).label("cohort")
    members = (
        select(s.customer_id.label("customer_id"), cohort_day)
        .select_from(CustomerStats.__table__.join(Customer.__table__, c.id == s.customer_id))
        .where(c.merged_into_id.is_(None), first >= lo, first < hi)
    )
    members = ctx.restrict(members, s.customer_id).subquery("members")
    if by == "first_order":
        o = Order.__table__.c
        acts = select(o.customer_id.label("customer_id"), ctx.bucket(ctx.local(o.completed_at)).label("at"))
        acts = acts.where(sales.counted(ctx), o.completed_at >= lo, o.completed_at < hi)
    else:
        days = active_days(ctx)
        acts = select(days.c.customer_id.label("customer_id"), ctx.bucket(days.c.day).label("at"))
    active = acts.distinct().subquery("acts")
    sizes = {
        as_date(day): int(n)
        for day, n in session.execute(select(members.c.cohort, func.count()).group_by(members.c.cohort))
    }
    matrix: dict[date, dict[int, int]] = {day: {} for day in sizes}
    joined = select(members.c.cohort, active.c.at, func.count(distinct(members.c.customer_id)))
    joined = joined.select_from(members.join(active, and_(active.c.customer_id == members.c.customer_id)))
    for cohort, at, n in session.execute(joined.group_by(members.c.cohort, active.c.at)):
        k = offset(as_date(cohort), as_date(at), unit)
        if 0 <= k < limit:
            matrix[as_date(cohort)][k] = int(n)
    rows = []
    for cohort in sorted(sizes):
        observed = [k for k in range(limit) if period_start(cohort, k, unit) <= end]
        counts = [matrix[cohort].get(k, 0) for k in observed]
        rows.append(
            {
                "cohort": cohort.isoformat(),
                "size": sizes[cohort],
                "retained": counts,
                "rates": [n / sizes[cohort] for n in counts],
            }
        )
    return {
        "by": by,
        "unit": unit,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "periods": limit,
        "filters": filters.as_dict(),
        "cohorts": rows,
    }
