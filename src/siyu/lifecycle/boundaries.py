"""Which customers' stage can have changed only because time passed between two sweeps.

A stage changes with time alone at four kinds of moment (see `stages`): last activity + the dormant limit,
last activity + the churn limit, first order + N (new → returning), and comeback + N (reactivated →
returning). So for a window (previous sweep, now] each is one range query per distinct limit; nobody
else needs looking at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from siyu.core.settings import Settings
from siyu.customers.tables import Customer, CustomerStats
from siyu.lifecycle.stages import Rules
from siyu.lifecycle.tables import LifecycleState


def inactivity_limits(settings: Settings) -> set[int]:
    """Every dormant and churn limit (days) in use: D, L, and those stretched by consumption cycles."""
    rules = Rules.from_settings(settings)
    cycles: list[int | None] = [None, *settings.lifecycle_category_cycles.values()]
    return {rules.dormant_days_for(c) for c in cycles} | {rules.churn_days_for(c) for c in cycles}


def crossed(session: Session, settings: Settings, start: datetime, end: datetime) -> set[int]:
    """Customers with a time boundary in (start, end]: one pass over `customer_stats` with a range per
    limit (an index on those columns turns each into a range scan), one over reactivated states."""
    s = CustomerStats
    ranges = []
    for days in sorted(inactivity_limits(settings)):
        low, high = start - timedelta(days=days), end - timedelta(days=days)
        ranges.append(and_(s.last_seen_at > low, s.last_seen_at <= high))
        ranges.append(and_(s.last_order_at > low, s.last_order_at <= high))
    new = timedelta(days=settings.lifecycle_new_days)
    ranges.append(and_(s.first_order_at > start - new, s.first_order_at <= end - new))
    out = set(session.scalars(select(s.customer_id).where(or_(*ranges))))
    back = select(LifecycleState.customer_id).where(
        LifecycleState.stage == "reactivated",
        LifecycleState.since > start - new,
        LifecycleState.since <= end - new,
    )
    out.update(session.scalars(back))
    return out


def everyone(session: Session, page: int = 5000) -> Iterator[list[int]]:
    """Every customer not merged away, by id pages (the first sweep, or an explicit full pass)."""
    after = 0
    while True:
        ids = list(
            session.scalars(
                select(Customer.id)
                .where(Customer.id > after, Customer.merged_into_id.is_(None))
                .order_by(Customer.id)
                .limit(page)
            )
        )
        if not ids:
            return
        yield ids
        after = ids[-1]
