"""The metrics catalogue: list definitions, compute one metric on demand over a period with filters
(a value for the whole period, a series per day/week/month and a breakdown by its dimension), and read
the values `materialise(session, day)` (siyu.analytics.materialise, re-exported here) stored."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.analytics.catalogue import definition, definitions
from siyu.analytics.definitions import Cell, Computed, Context, Definition, Options, Series
from siyu.analytics.materialise import materialise
from siyu.analytics.population import Filters, clean, population
from siyu.analytics.sqltime import Granularity, Period, bucket_of, check_day
from siyu.analytics.tables import DailyMetric
from siyu.core.errors import ValidationFailed

MAX_DAYS = 1096
__all__ = ["check_period", "compute", "definition", "definitions", "materialise", "run", "stored"]


def check_period(start: date, end: date) -> Period:
    check_day(start, "from")
    check_day(end, "to")
    if start > end:
        raise ValidationFailed("from is after to", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"a period may span at most {MAX_DAYS} days", field="to")
    return Period(start, end)


def check_options(options: Options) -> Options:
    if not 1 <= options.window_days <= 365:
        raise ValidationFailed("window_days must be from 1 to 365", field="window_days")
    if not 1 <= options.silent_days <= 730:
        raise ValidationFailed("silent_days must be from 1 to 730", field="silent_days")
    if not options.goal.strip() or len(options.goal) > 200 or "\x00" in options.goal:
        raise ValidationFailed("goal must be an event name (1–200 characters)", field="goal")
    if options.currency is not None and (len(options.currency) != 3 or not options.currency.isalpha()):
        raise ValidationFailed("currency must be a three-letter code", field="currency")
    return options


def run(
    session: Session,
    defn: Definition,
    period: Period,
    granularity: Granularity,
    filters: Filters,
    options: Options,
) -> Computed:
    ctx = Context(session, period, granularity, filters, population(session, filters), options)
    return defn.compute(ctx)


def _point(day: date, cell: Cell, scale: float) -> dict[str, Any]:
    return {
        "period": day.isoformat(),
        "value": cell.value(scale),
        "numerator": cell.numerator,
        "denominator": cell.denominator,
    }


def _filled(defn: Definition, series: Series, buckets: list[date]) -> list[dict[str, Any]]:
    empty = Cell(0.0, None if defn.denominator is None else 0.0)
    return [_point(day, series.get(day, empty), defn.scale) for day in buckets]


def compute(
    session: Session,
    name: str,
    *,
    start: date,
    end: date,
    granularity: Granularity = "day",
    filters: Filters | None = None,
    options: Options | None = None,
) -> dict[str, Any]:
    """One metric over [start, end] (brand-local days): whole-period value, series and breakdown."""
    defn = definition(name)
    period = check_period(start, end)
    filters = filters or Filters()
    options = check_options(options or Options())
    total = run(session, defn, period, "all", filters, options)
    detail = total if granularity == "all" else run(session, defn, period, granularity, filters, options)
    buckets = sorted({bucket_of(d, granularity, start) for d in period.days()})
    whole = _filled(defn, total.series, [start])[0]
    breakdown = [
        {
            "key": key,
            **{
                k: v
                for k, v in _filled(defn, total.breakdown.get(key, {}), [start])[0].items()
                if k != "period"
            },
            "series": _filled(defn, detail.breakdown.get(key, {}), buckets),
        }
        for key in sorted(set(total.breakdown) | set(detail.breakdown))
    ]
    return {
        **defn.public(),
        "metric": defn.name,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "granularity": granularity,
        "filters": filters.as_dict(),
        "options": {k: v for k, v in asdict(options).items() if k in defn.options},
        "value": whole["value"],
        "numerator": whole["numerator"],
        "denominator": whole["denominator"],
        "series": _filled(defn, detail.series, buckets),
        "breakdown": breakdown,
    }


def stored(session: Session, name: str, start: date, end: date, dimension: str = "all") -> dict[str, Any]:
    """Materialised daily values of one metric for one dimension key (days never materialised are absent)."""
    defn = definition(name)
    check_period(start, end)
    clean(dimension, "dimension")
    rows = session.scalars(
        select(DailyMetric)
        .where(
            DailyMetric.metric == name,
            DailyMetric.dimension == dimension,
            DailyMetric.day >= start,
            DailyMetric.day <= end,
        )
        .order_by(DailyMetric.day)
    )
    series = [
        {
            "period": r.day.isoformat(),
            "value": r.value,
            "numerator": r.numerator,
            "denominator": r.denominator,
            "computed_at": r.computed_at,
        }
        for r in rows
    ]
    return {**defn.public(), "metric": name, "dimension": dimension, "from": start.isoformat(),
            "to": end.isoformat(), "granularity": "day", "series": series}  # fmt: skip
