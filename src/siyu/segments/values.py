"""Building blocks of the condition language: value types and operators, limits, the field-named error
every validator raises, and the check of a value against its operator."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

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
PROPERTY_PATH = re.compile(r'^[^"\\\x00-\x1f]{1,200}$')
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


class Node(BaseModel):
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


def pii_trait(name: str) -> bool:
    from siyu.core.pii import get_vault  # settings-dependent: which trait names are personal data

    return get_vault().is_pii_name(name)
