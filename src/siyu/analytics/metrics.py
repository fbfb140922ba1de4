"""The metrics catalogue: list definitions, compute one metric on demand over a period with filters
(a value for the whole period, a series per day/week/month and a breakdown by its dimension), and
`materialise(session, day)`, the daily job that stores every metric into `daily_metrics`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.analytics import acquisition, activity, conversion, messages, sales, surveys
from siyu.analytics.definitions import REGISTRY, Cell, Computed, Context, Definition, Options, Series
from siyu.analytics.population import Filters, population
from siyu.analytics.sqltime import Granularity, Period, bucket_of
from siyu.analytics.tables import DailyMetric
from siyu.auth.tables import Source
from siyu.core.clock import now
from siyu.core.errors import NotFound, ValidationFailed
from siyu.events.system import SYSTEM_SOURCE
from siyu.staff.tables import Staff

MODULES = (activity, sales, acquisition, messages, conversion, surveys)  # each registers its metrics
MAX_DAYS = 1096
# Metrics whose value for a day keeps changing while outcomes arrive: re-materialised for a week.
MATURING = ("delivery_rate", "open_rate", "click_rate", "reply_rate", "journey_conversion", "wakeup_rate")
MATURING_DAYS = 7


def definitions() -> list[Definition]:
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def definition(name: str) -> Definition:
    found = REGISTRY.get(name)
    if found is None:
        known = ", ".join(sorted(REGISTRY))
        raise NotFound(f"unknown metric {name!r}; known metrics: {known}", field="name")
    return found


def check_period(start: date, end: date) -> Period:
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
    if not options.goal.strip() or len(options.goal) > 200:
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


def _dimension_filters(session: Session) -> list[tuple[str, Filters]]:
    """The filters materialised besides `all`: each acquisition source and each department."""
    out: list[tuple[str, Filters]] = [("all", Filters())]
    sources = session.scalars(select(Source.name).where(Source.name != SYSTEM_SOURCE).order_by(Source.name))
    out += [(f"source:{s}", Filters(source=s)) for s in sources]
    departments = session.scalars(
        select(Staff.department).where(Staff.department.is_not(None)).distinct().order_by(Staff.department)
    )
    out += [(f"department:{d}", Filters(department=d)) for d in departments if d]
    return out


def _store_day(session: Session, defn: Definition, day: date, scopes: list[tuple[str, Filters]]) -> int:
    rows: list[DailyMetric] = []
    at = now()
    for label, filters in scopes:
        computed = run(session, defn, Period(day, day), "day", filters, Options())
        empty = Cell(0.0, None if defn.denominator is None else 0.0)
        cells = [(label, computed.series.get(day, empty))]
        if label == "all" and defn.dimension:
            cells += [
                (f"{defn.dimension}:{key}", s[day]) for key, s in computed.breakdown.items() if day in s
            ]
        for dimension, cell in cells:
            rows.append(
                DailyMetric(
                    metric=defn.name,
                    day=day,
                    dimension=dimension[:200],
                    value=cell.value(defn.scale),
                    numerator=cell.numerator,
                    denominator=cell.denominator,
                    computed_at=at,
                )
            )
    session.execute(delete(DailyMetric).where(DailyMetric.metric == defn.name, DailyMetric.day == day))
    session.add_all(rows)
    session.flush()
    return len(rows)


def materialise(session: Session, day: date) -> int:
    """Store every metric for brand-local `day` (all customers, each source, each department, and each
    value of the metric's dimension); maturing rates are also refreshed for the week before. Idempotent:
    a re-run replaces the day's rows. Returns the number of rows written. The caller commits."""
    scopes = _dimension_filters(session)
    written = 0
    for defn in definitions():
        written += _store_day(session, defn, day, scopes)
        if defn.name in MATURING:
            for back in range(1, MATURING_DAYS + 1):
                written += _store_day(session, defn, day - timedelta(days=back), scopes)
    return written


def stored(session: Session, name: str, start: date, end: date, dimension: str = "all") -> dict[str, Any]:
    """Materialised daily values of one metric for one dimension key (days never materialised are absent)."""
    defn = definition(name)
    check_period(start, end)
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
