"""The daily job: `materialise(session, day)` stores every metric of one brand-local day into
`daily_metrics`, for all customers, each acquisition source, each department and each value of a metric's
own dimension (channel, journey, group). The worker schedules it; re-running a day replaces its rows."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.analytics.catalogue import definitions
from siyu.analytics.definitions import Cell, Context, Definition, Options
from siyu.analytics.population import Filters, population
from siyu.analytics.sqltime import Period
from siyu.analytics.tables import DailyMetric
from siyu.auth.tables import Source
from siyu.core.clock import now
from siyu.events.system import SYSTEM_SOURCE
from siyu.staff.tables import Staff

# Metrics whose value for a day keeps changing while outcomes arrive: re-materialised for a week.
MATURING = ("delivery_rate", "open_rate", "click_rate", "reply_rate", "journey_conversion", "wakeup_rate")
MATURING_DAYS = 7


def scopes(session: Session) -> list[tuple[str, Filters]]:
    """The dimension keys materialised for every metric: `all`, `source:<name>`, `department:<name>`."""
    out: list[tuple[str, Filters]] = [("all", Filters())]
    sources = session.scalars(select(Source.name).where(Source.name != SYSTEM_SOURCE).order_by(Source.name))
    out += [(f"source:{s}", Filters(source=s)) for s in sources]
    departments = session.scalars(
        select(Staff.department).where(Staff.department.is_not(None)).distinct().order_by(Staff.department)
    )
    out += [(f"department:{d}", Filters(department=d)) for d in departments if d]
    return out


def _rows(defn: Definition, ctx: Context, label: str, day: date) -> list[DailyMetric]:
    computed = defn.compute(ctx)
    empty = Cell(0.0, None if defn.denominator is None else 0.0)
    cells = [(label, computed.series.get(day, empty))]
    if label == "all" and defn.dimension:
        cells += [
            (f"{defn.dimension}:{key}", s[day]) for key, s in sorted(computed.breakdown.items()) if day in s
        ]
    at = now()
    return [
        DailyMetric(
            metric=defn.name,
            day=day,
            dimension=dimension[:200],
            value=cell.value(defn.scale),
            numerator=cell.numerator,
            denominator=cell.denominator,
            computed_at=at,
        )
        for dimension, cell in cells
    ]


def materialise(session: Session, day: date) -> int:
    """Store every metric for brand-local `day`, and refresh the maturing rates of the week before.
    Returns the number of rows written. Only flushes: the caller commits."""
    prepared = [(label, filters, population(session, filters)) for label, filters in scopes(session)]
    written = 0
    for back in range(MATURING_DAYS + 1):
        current = day - timedelta(days=back)
        chosen = [d for d in definitions() if back == 0 or d.name in MATURING]
        rows: list[DailyMetric] = []
        for label, filters, people in prepared:
            ctx = Context(session, Period(current, current), "day", filters, people, Options())
            for defn in chosen:
                rows += _rows(defn, ctx, label, current)
        names = [d.name for d in chosen]
        session.execute(delete(DailyMetric).where(DailyMetric.day == current, DailyMetric.metric.in_(names)))
        session.add_all(rows)
        session.flush()
        written += len(rows)
    return written
