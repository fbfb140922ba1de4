"""The segment condition language: one Pydantic model per node `type` (stored strings never change),
joined in the `Condition` discriminated union. Rule tags use the same language.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator

from siyu.consent.tables import CHANNELS, PURPOSES
from siyu.lifecycle.tables import STAGES

MAX_DEPTH = 8
MAX_NODES = 100
MAX_DAYS = 3650
MAX_LIST = 1000

Scalar = Union[bool, int, float, str]  # noqa: UP007 (order matters to Pydantic's smart union)
CompareOp = Literal["eq", "ne", "lt", "lte", "gt", "gte"]
ValueOp = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "exists", "not_exists"]
DateOp = Literal["within_last_days", "before_days_ago", "within_next_days", "anniversary_within_days"]
TraitOp = Literal[ValueOp, DateOp]
Tier = Literal[
    "important_value", "important_develop", "important_retain", "important_win_back",
    "general_value", "general_develop", "general_retain", "general_win_back",
]  # fmt: skip
Stage = Literal["prospect", "new", "returning", "dormant", "churned", "reactivated"]
assert set(Stage.__args__) == set(STAGES)  # type: ignore[attr-defined]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_PATH = re.compile(r'^[^"\\\x00-\x1f]{1,200}$')
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


Number = Annotated[Decimal, PlainSerializer(_plain_number, when_used="json")]  # stored as a JSON number


class FieldError(ValueError):
    """A validation error that names the field it is about (the error path ends with it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_value(op: str, value: Any, *, field: str = "value") -> None:
    """The shape of `value` each operator needs (shared by traits and event property filters)."""
    if op in ("exists", "not_exists"):
        if value is not None:
            raise FieldError(field, f"{op} takes no {field}")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise FieldError(field, f"{op} needs a list of 1-{MAX_LIST} values")
        if any(isinstance(v, list | dict) or v is None for v in value):
            raise FieldError(field, f"{op} needs plain values (text, numbers, true/false)")
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise FieldError(field, "contains needs non-empty text")
    elif op in ("lt", "lte", "gt", "gte"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise FieldError(field, f"{op} needs a number or text")
    elif op in ("eq", "ne"):
        if value is None or isinstance(value, list | dict):
            raise FieldError(field, f"{op} needs one plain value (text, number, true/false)")
    elif op == "anniversary_within_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
            raise FieldError(field, "anniversary_within_days needs a whole number of days, 0-366")
    elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise FieldError(field, f"{op} needs a whole number of days, 1-{MAX_DAYS}")


def _pii_trait(name: str) -> bool:
    from siyu.core.pii import get_vault  # settings-dependent: which trait names are personal data

    return get_vault().is_pii_name(name)


class TraitCondition(_Node):
    """A profile trait compared with a value, or a date trait relative to today (brand zone)."""

    type: Literal["trait"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    op: TraitOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _check(self) -> TraitCondition:
        check_value(self.op, self.value)
        if self.op not in ("exists", "not_exists") and _pii_trait(self.name):
            raise FieldError(
                "op", f"trait {self.name!r} is personal data (encrypted): use exists or not_exists"
            )
        return self


class IdentityCondition(_Node):
    """The customer has (or lacks) an identity of this type, e.g. phone, unionid, wecom_external_userid."""

    type: Literal["identity"]
    identity_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    present: bool = True


class TagCondition(_Node):
    """The customer carries (or does not carry) a tag."""

    type: Literal["tag"]
    tag_id: Id
    has: bool = True


class PropertyFilter(_Node):
    """One test on an event property, e.g. {"property": "category", "op": "eq", "value": "精华"}."""

    property: Annotated[str, StringConstraints(pattern=_PATH.pattern)]
    op: ValueOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _check(self) -> PropertyFilter:
        check_value(self.op, self.value)
        return self


class LastDays(_Node):
    """The last N brand-local days, today included."""

    last_days: Days


class Between(_Node):
    """From one brand-local day to another, both included."""

    between: tuple[date, date]

    @model_validator(mode="after")
    def _check(self) -> Between:
        if self.between[0] > self.between[1]:
            raise FieldError("between", "the first day must not be after the second")
        return self


Window = LastDays | Between


class EventCountCondition(_Node):
    """How many times the customer did an event (optionally with property filters) in a window."""

    type: Literal["event_count"]
    event: Text
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)
    window: Window | None = None
    op: CompareOp = "gte"
    value: Annotated[int, Field(ge=0, le=10**9)] = 1


NUMBER_METRICS = ("count", "spend", "aov")
OrderOp = Literal[CompareOp, "within_last_days", "before_days_ago", "before", "after", "exists", "not_exists"]


class OrderCondition(_Node):
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


class BoughtCondition(_Node):
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


class RfmCondition(_Node):
    """RFM value tier in a list, or one score (r, f, m: 1-5) compared with a number."""

    type: Literal["rfm"]
    tiers: list[Tier] | None = Field(None, min_length=1, max_length=8)
    score: Literal["r", "f", "m"] | None = None
    op: CompareOp | None = None
    value: Annotated[int, Field(ge=1, le=5)] | None = None

    @model_validator(mode="after")
    def _check(self) -> RfmCondition:
        scored = (self.score, self.op, self.value)
        if self.tiers is not None and any(v is not None for v in scored):
            raise FieldError("tiers", "give tiers, or score with op and value, not both")
        if self.tiers is None and any(v is None for v in scored):
            raise FieldError("tiers", "give tiers, or score with op and value")
        return self


class LifecycleCondition(_Node):
    """Lifecycle stage in a list."""

    type: Literal["lifecycle"]
    stages: list[Stage] = Field(min_length=1, max_length=6)


class OwnerCondition(_Node):
    """Owner staff (WeCom userid) in a list, owner's department in a list, or has an owner at all."""

    type: Literal["owner"]
    staff: list[Text] | None = Field(None, min_length=1, max_length=MAX_LIST)
    departments: list[Text] | None = Field(None, min_length=1, max_length=MAX_LIST)
    has_owner: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> OwnerCondition:
        given = [f for f in ("staff", "departments", "has_owner") if getattr(self, f) is not None]
        if len(given) != 1:
            raise FieldError("staff", "give exactly one of staff, departments, has_owner")
        return self


class LiveCodeCondition(_Node):
    """Came through one of these live codes (the trait `live_code`: the WeCom `state`)."""

    type: Literal["live_code"]
    codes: list[Text] = Field(min_length=1, max_length=MAX_LIST)


class ConsentCondition(_Node):
    """Consent state for a channel and purpose; `unknown` = nothing recorded."""

    type: Literal["consent"]
    channel: Literal["wecom", "sms", "email", "webhook", "any"]
    purpose: Literal["marketing", "service", "transactional"] = "marketing"
    status: Literal["granted", "denied", "unsubscribed", "unknown"] = "granted"


assert set(ConsentCondition.model_fields["channel"].annotation.__args__) == set(CHANNELS)  # type: ignore[union-attr]
assert set(ConsentCondition.model_fields["purpose"].annotation.__args__) == set(PURPOSES)  # type: ignore[union-attr]


class SegmentCondition(_Node):
    """Member (or not) of another segment. Cycles are refused when a segment is saved."""

    type: Literal["segment"]
    segment_id: Id
    member: bool = True


def _shape(node: Any) -> tuple[int, int]:
    """(nodes, depth) of a subtree."""
    kids = children(node)
    if not kids:
        return 1, 1
    sizes = [_shape(k) for k in kids]
    return 1 + sum(s[0] for s in sizes), 1 + max(s[1] for s in sizes)


def _check_limits(node: Any) -> None:
    nodes, depth = _shape(node)
    if depth > MAX_DEPTH:
        raise FieldError("", f"conditions nest {depth} levels deep; the limit is {MAX_DEPTH}")
    if nodes > MAX_NODES:
        raise FieldError("", f"{nodes} conditions; the limit is {MAX_NODES}")


class AndCondition(_Node):
    """Every child is true."""

    type: Literal["and"]
    children: list[Condition] = Field(min_length=1, max_length=MAX_NODES)

    @model_validator(mode="after")
    def _check(self) -> AndCondition:
        _check_limits(self)
        return self


class OrCondition(_Node):
    """At least one child is true."""

    type: Literal["or"]
    children: list[Condition] = Field(min_length=1, max_length=MAX_NODES)

    @model_validator(mode="after")
    def _check(self) -> OrCondition:
        _check_limits(self)
        return self


class NotCondition(_Node):
    """The child is false."""

    type: Literal["not"]
    child: Condition

    @model_validator(mode="after")
    def _check(self) -> NotCondition:
        _check_limits(self)
        return self


Condition = Annotated[
    Union[  # noqa: UP007
        AndCondition, OrCondition, NotCondition, TraitCondition, IdentityCondition, TagCondition,
        EventCountCondition, OrderCondition, BoughtCondition, RfmCondition, LifecycleCondition,
        OwnerCondition, LiveCodeCondition, ConsentCondition, SegmentCondition,
    ],
    Field(discriminator="type"),
]  # fmt: skip
Leaf = Union[  # noqa: UP007
    TraitCondition, IdentityCondition, TagCondition, EventCountCondition, OrderCondition, BoughtCondition,
    RfmCondition, LifecycleCondition, OwnerCondition, LiveCodeCondition, ConsentCondition, SegmentCondition,
]  # fmt: skip
for _model in (AndCondition, OrCondition, NotCondition):
    _model.model_rebuild()


def children(node: Any) -> list[Any]:
    if isinstance(node, AndCondition | OrCondition):
        return list(node.children)
    if isinstance(node, NotCondition):
        return [node.child]
    return []


def walk(node: Any) -> list[Any]:
    """Every node of a tree, parents before children."""
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out
