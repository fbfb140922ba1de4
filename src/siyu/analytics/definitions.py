"""The metric framework: a metric is a `Definition` (names, unit, numerator and denominator in words)
whose `compute(ctx)` returns one `Cell` (numerator, denominator) per period bucket, optionally per dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from siyu.analytics import sqltime
from siyu.analytics.population import Filters, restrict
from siyu.analytics.sqltime import Granularity, Period

Unit = Literal["count", "ratio", "minor", "score", "per_customer"]

# Stored event names (the contract with messaging, journeys and surveys; they never change).
MESSAGE_SENT = "Message Sent"
MESSAGE_DELIVERED = "Message Delivered"
MESSAGE_OPENED = "Message Opened"
MESSAGE_CLICKED = "Message Clicked"
MESSAGE_REPLIED = "Message Replied"
UNSUBSCRIBED = "Unsubscribed"
SURVEY_ANSWERED = "Survey Answered"
COMPLAINT_SUBMITTED = "Complaint Submitted"
JOURNEY_ENTERED = "Journey Entered"
JOURNEY_CONVERTED = "Journey Converted"
ORDER_COMPLETED = "Order Completed"

# Track events that are not something the customer did: receipts of what siyu sent, journey bookkeeping.
PASSIVE_EVENTS = (MESSAGE_SENT, MESSAGE_DELIVERED, "Message Failed", "Message Bounced", "Message Deferred",
                  "Message Dropped", JOURNEY_ENTERED, "Journey Exited", JOURNEY_CONVERTED)  # fmt: skip
# Rollup keys (see customers.stats.rollup_name) that are not activity: the above plus identify/alias/group.
PASSIVE_ROLLUPS = (*PASSIVE_EVENTS, "$identify", "$alias", "$group")
# The customer's reactions to messages. Messaging records them as system events (kept out of stats and
# rollups), yet they are the customer's own actions: activity reads them from the event log as well.
ENGAGEMENT = (MESSAGE_OPENED, MESSAGE_CLICKED, MESSAGE_REPLIED)
# A customer is reached by a message once it was sent to them (not every channel reports delivery).
REACH = (MESSAGE_SENT, MESSAGE_DELIVERED, *ENGAGEMENT)


@dataclass
class Cell:
    """One bucket of one metric: value = numerator / denominator × scale (or the numerator alone)."""

    numerator: float = 0.0
    denominator: float | None = None

    def add(self, numerator: float, denominator: float | None = None) -> None:
        self.numerator += numerator
        if denominator is not None:
            self.denominator = (self.denominator or 0.0) + denominator

    def value(self, scale: float = 1.0) -> float | None:
        if self.denominator is None:
            return self.numerator
        return None if self.denominator == 0 else self.numerator / self.denominator * scale


Series = dict[date, Cell]


@dataclass
class Computed:
    series: Series = field(default_factory=dict)
    breakdown: dict[str, Series] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """Knobs some metrics take (query parameters of the API)."""

    window_days: int = 7  # conversion / wake-up window after entering or being reached
    silent_days: int = 90  # no activity for this long before being reached = silent
    goal: str = ORDER_COMPLETED  # the event that counts as a journey conversion
    currency: str | None = None  # money metrics count orders in this currency (default: the brand's)


@dataclass(frozen=True)
class Context:
    session: Session
    period: Period
    granularity: Granularity
    filters: Filters
    people: Select[tuple[int]] | None
    options: Options = Options()
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False)  # shared sub-results

    def remember(self, key: Any, build: Callable[[], Any]) -> Any:
        """`build()` once per context (several metrics of one run share a query's result)."""
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]

    @property
    def kind(self) -> str:
        return self.session.get_bind().dialect.name

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.period.utc_bounds()

    def local(self, col: Any) -> ColumnElement[date]:
        lo, hi = self.bounds
        return sqltime.local_date(self.kind, col, lo, hi)

    def bucket(self, day_expr: Any) -> ColumnElement[date]:
        return sqltime.bucket(self.kind, day_expr, self.granularity, self.period.start)

    def group(self, query: Any, bucket: Any, *more: Any) -> Any:
        """GROUP BY the bucket (not when it is the constant of the whole period) and `more`."""
        keys = list(more) if self.granularity == "all" else [bucket, *more]
        return query.group_by(*keys) if keys else query

    def restrict(self, query: Any, customer_col: Any) -> Any:
        return restrict(query, customer_col, self.people)

    def bucket_of(self, day: date) -> date:
        return sqltime.bucket_of(day, self.granularity, self.period.start)


@dataclass(frozen=True)
class Definition:
    name: str
    label: str
    label_zh: str
    unit: Unit
    numerator: str
    denominator: str | None
    compute: Callable[[Context], Computed]
    scale: float = 1.0
    dimension: str | None = None  # the breakdown key, e.g. "channel", "journey"
    options: tuple[str, ...] = ()  # which Options fields it reads

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "label_zh": self.label_zh,
            "unit": self.unit,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "scale": self.scale,
            "dimension": self.dimension,
            "options": list(self.options),
        }


REGISTRY: dict[str, Definition] = {}


def register(*definitions: Definition) -> None:
    for d in definitions:
        REGISTRY[d.name] = d


def cells(rows: Any, ratio: bool = False) -> Series:
    """(bucket, numerator[, denominator]) rows → Series."""
    out: Series = {}
    for row in rows:
        if row[0] is None:
            continue
        day = sqltime.as_date(row[0])
        out[day] = Cell(float(row[1] or 0), float(row[2] or 0) if ratio else None)
    return out


def divide(numerators: Series, denominators: Series) -> Series:
    """Pair two count series into a ratio series over the union of their buckets."""
    out: Series = {}
    for day in sorted(set(numerators) | set(denominators)):
        top, bottom = numerators.get(day), denominators.get(day)
        out[day] = Cell(top.numerator if top else 0.0, bottom.numerator if bottom else 0.0)
    return out
