"""Activity conditions of the language: event counts (with property filters and windows), order
aggregates and products bought."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from siyu.segments.values import (
    MAX_DAYS,
    PROPERTY_PATH,
    CompareOp,
    Days,
    FieldError,
    Node,
    Number,
    Scalar,
    Text,
    ValueOp,
    check_value,
)


class PropertyFilter(Node):
    """One test on an event property, e.g. {"property": "category", "op": "eq", "value": "精华"}."""

    property: Annotated[str, StringConstraints(pattern=PROPERTY_PATH.pattern)]
    op: ValueOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _check(self) -> PropertyFilter:
        check_value(self.op, self.value)
        return self


class LastDays(Node):
    """The last N brand-local days, today included."""

    last_days: Days


class Between(Node):
    """From one brand-local day to another, both included."""

    between: tuple[date, date]

    @model_validator(mode="after")
    def _check(self) -> Between:
        if self.between[0] > self.between[1]:
            raise FieldError("between", "the first day must not be after the second")
        return self


Window = LastDays | Between


class EventCountCondition(Node):
    """How many times the customer did an event (optionally with property filters) in a window."""

    type: Literal["event_count"]
    event: Text
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)
    window: Window | None = None
    op: CompareOp = "gte"
    value: Annotated[int, Field(ge=0, le=10**9)] = 1


NUMBER_METRICS = ("count", "spend", "aov")
OrderOp = Literal[CompareOp, "within_last_days", "before_days_ago", "before", "after", "exists", "not_exists"]


class OrderCondition(Node):
    """An order aggregate: count, spend or average order value (money in major units, e.g. yuan), or
    when the last/first order was."""

    type: Literal["order"]
    metric: Literal["count", "spend", "aov", "last_order_at", "first_order_at"]
    op: OrderOp
    value: Number | date | None = None
    window: Window | None = None

    @model_validator(mode="after")
    def _check(self) -> OrderCondition:
        if self.metric in NUMBER_METRICS:
            if self.op not in ("eq", "ne", "lt", "lte", "gt", "gte"):
                raise FieldError("op", f"{self.metric} compares with eq, ne, lt, lte, gt or gte")
            if not isinstance(self.value, Decimal) or not self.value.is_finite() or self.value < 0:
                raise FieldError("value", f"{self.metric} needs a number ≥ 0")
            if self.metric == "count" and self.value != self.value.to_integral_value():
                raise FieldError("value", "count needs a whole number")
            if abs(self.value) >= Decimal(10) ** 13:
                raise FieldError("value", "value is out of range")
            return self
        if self.window is not None:
            raise FieldError(
                "window", f"{self.metric} takes no window (use within_last_days or before_days_ago)"
            )
        if self.op in ("exists", "not_exists"):
            if self.value is not None:
                raise FieldError("value", f"{self.op} takes no value")
        elif self.op in ("before", "after"):
            if not isinstance(self.value, date):
                raise FieldError("value", f"{self.op} needs a day, e.g. 2026-11-01")
        elif self.op in ("within_last_days", "before_days_ago"):
            ok = isinstance(self.value, Decimal) and self.value == self.value.to_integral_value()
            if not ok or not 1 <= int(self.value or 0) <= MAX_DAYS:  # type: ignore[arg-type]
                raise FieldError("value", f"{self.op} needs a whole number of days, 1-{MAX_DAYS}")
        else:
            raise FieldError(
                "op", f"{self.metric} uses within_last_days, before_days_ago, before, after, exists"
            )
        return self

    @property
    def days(self) -> int:
        return int(self.value) if isinstance(self.value, Decimal) else 0


class BoughtCondition(Node):
    """The customer bought a product, SKU or category (completed, not fully refunded orders)."""

    type: Literal["bought"]
    product_id: Text | None = None
    sku: Text | None = None
    category: Text | None = None
    window: Window | None = None

    @model_validator(mode="after")
    def _check(self) -> BoughtCondition:
        given = [f for f in ("product_id", "sku", "category") if getattr(self, f) is not None]
        if len(given) != 1:
            raise FieldError("product_id", "give exactly one of product_id, sku, category")
        return self
