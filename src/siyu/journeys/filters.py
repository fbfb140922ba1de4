"""Event property filters used by journey triggers, event waits and goals, e.g. `total >= 100` or
`products.0.category = 精华`; all filters of a list must hold. Pure and total: a missing property or a
type mismatch is simply "no match", never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists", "not_exists"]
_MISSING = object()


class PropertyFilter(BaseModel):
    """`property` is a dotted path into the event's properties (list items by index)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property: str = Field(min_length=1, max_length=200, pattern=r"^[^.\s][^\s]*$")
    op: Op = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> PropertyFilter:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in ("gt", "gte", "lt", "lte") and not isinstance(self.value, int | float | str):
            raise ValueError(f"op {self.op!r} needs a number or a string value")
        if self.op not in ("exists", "not_exists") and self.value is None and self.op not in ("eq", "ne"):
            raise ValueError(f"op {self.op!r} needs a value")
        return self


def lookup(properties: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted `path` (`a.b.0.c`), or `_MISSING`."""
    current: Any = properties
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdecimal() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return False  # booleans are only equal/unequal, never ordered
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        a, b = float(actual), float(expected)
    elif isinstance(actual, str) and isinstance(expected, str):
        a, b = actual, expected  # type: ignore[assignment]
    else:
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    return bool(actual == expected)


def matches_one(f: PropertyFilter, properties: Mapping[str, Any]) -> bool:
    actual = lookup(properties, f.property)
    if f.op == "exists":
        return actual is not _MISSING and actual is not None
    if f.op == "not_exists":
        return actual is _MISSING or actual is None
    if actual is _MISSING:
        return f.op in ("ne", "not_in")
    if f.op == "eq":
        return _equal(actual, f.value)
    if f.op == "ne":
        return not _equal(actual, f.value)
    if f.op == "in":
        return any(_equal(actual, v) for v in f.value)
    if f.op == "not_in":
        return not any(_equal(actual, v) for v in f.value)
    if f.op == "contains":
        if isinstance(actual, str) and isinstance(f.value, str):
            return f.value in actual
        return isinstance(actual, list) and any(_equal(item, f.value) for item in actual)
    return _compare(f.op, actual, f.value)


def matches(filters: Sequence[PropertyFilter], properties: Mapping[str, Any]) -> bool:
    """True when every filter holds (an empty list always matches)."""
    return all(matches_one(f, properties) for f in filters)
