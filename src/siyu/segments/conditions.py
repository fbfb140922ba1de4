"""The segment condition language: one Pydantic model per node `type` (stored strings never change),
joined in the `Condition` discriminated union. Rule tags use the same language.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, StringConstraints, model_validator

from siyu.consent.tables import CHANNELS, PURPOSES
from siyu.segments.activity_conditions import (
    NUMBER_METRICS,
    Between,
    BoughtCondition,
    EventCountCondition,
    LastDays,
    OrderCondition,
    PropertyFilter,
    Window,
)
from siyu.segments.values import (
    MAX_DEPTH,
    MAX_LIST,
    MAX_NODES,
    CompareOp,
    FieldError,
    Id,
    Node,
    Scalar,
    Stage,
    Text,
    Tier,
    TraitOp,
    check_value,
    pii_trait,
)

__all__ = [
    "NUMBER_METRICS", "Between", "BoughtCondition", "Condition", "EventCountCondition", "FieldError",
    "LastDays", "Leaf", "OrderCondition", "PropertyFilter", "Window", "children", "walk",
]  # fmt: skip


class TraitCondition(Node):
    """A profile trait compared with a value, or a date trait relative to today (brand zone)."""

    type: Literal["trait"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    op: TraitOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _check(self) -> TraitCondition:
        check_value(self.op, self.value)
        if self.op not in ("exists", "not_exists") and pii_trait(self.name):
            raise FieldError(
                "op", f"trait {self.name!r} is personal data (encrypted): use exists or not_exists"
            )
        return self


class IdentityCondition(Node):
    """The customer has (or lacks) an identity of this type, e.g. phone, unionid, wecom_external_userid."""

    type: Literal["identity"]
    identity_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    present: bool = True


class TagCondition(Node):
    """The customer carries (or does not carry) a tag."""

    type: Literal["tag"]
    tag_id: Id
    has: bool = True


class RfmCondition(Node):
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


class LifecycleCondition(Node):
    """Lifecycle stage in a list."""

    type: Literal["lifecycle"]
    stages: list[Stage] = Field(min_length=1, max_length=6)


class OwnerCondition(Node):
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


class LiveCodeCondition(Node):
    """Came through one of these live codes (the trait `live_code`: the WeCom `state`)."""

    type: Literal["live_code"]
    codes: list[Text] = Field(min_length=1, max_length=MAX_LIST)


class ConsentCondition(Node):
    """Consent state for a channel and purpose; `unknown` = nothing recorded."""

    type: Literal["consent"]
    channel: Literal["wecom", "sms", "email", "webhook", "any"]
    purpose: Literal["marketing", "service", "transactional"] = "marketing"
    status: Literal["granted", "denied", "unsubscribed", "unknown"] = "granted"


assert set(ConsentCondition.model_fields["channel"].annotation.__args__) == set(CHANNELS)  # type: ignore[union-attr]
assert set(ConsentCondition.model_fields["purpose"].annotation.__args__) == set(PURPOSES)  # type: ignore[union-attr]


class SegmentCondition(Node):
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


class AndCondition(Node):
    """Every child is true."""

    type: Literal["and"]
    children: list[Condition] = Field(min_length=1, max_length=MAX_NODES)

    @model_validator(mode="after")
    def _check(self) -> AndCondition:
        _check_limits(self)
        return self


class OrCondition(Node):
    """At least one child is true."""

    type: Literal["or"]
    children: list[Condition] = Field(min_length=1, max_length=MAX_NODES)

    @model_validator(mode="after")
    def _check(self) -> OrCondition:
        _check_limits(self)
        return self


class NotCondition(Node):
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
