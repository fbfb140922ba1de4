"""Segment definitions (`{"version": 1, "root": Condition}`), parsing with field-named errors, the
console's catalogue of condition types (Chinese and English), and the API's request/response bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticError

from siyu.core.errors import ValidationFailed
from siyu.segments.conditions import Condition, FieldError

__all__ = ["CONDITION_TYPES", "Condition", "Definition", "parse_condition", "parse_definition"]

# type → (中文, English, what it tests). Shown by the console's condition picker.
CONDITION_TYPES: dict[str, tuple[str, str, str]] = {
    "and": ("并且", "All of", "every child condition is true"),
    "or": ("或者", "Any of", "at least one child condition is true"),
    "not": ("不满足", "Not", "the child condition is false"),
    "trait": ("属性", "Trait", "a profile trait compared with a value, or a date trait relative to today"),
    "identity": ("身份", "Identity", "has an identity of a type (phone, unionid, WeCom contact…)"),
    "tag": ("标签", "Tag", "carries a tag, or does not"),
    "event_count": ("行为次数", "Event count", "did an event N times in a window, with property filters"),
    "order": ("订单", "Orders", "order count, spend, average order value, last/first order date"),
    "bought": ("购买过", "Bought", "bought a product, SKU or category"),
    "rfm": ("RFM 价值分层", "RFM", "RFM value tier, or an R/F/M score"),
    "lifecycle": ("生命周期", "Lifecycle", "lifecycle stage"),
    "owner": ("归属员工", "Owner", "owner staff member or department"),
    "live_code": ("渠道活码", "Live code", "came through a WeCom live code"),
    "consent": ("授权状态", "Consent", "consent for a channel and purpose"),
    "segment": ("分群", "Segment", "member of another segment, or not"),
}

_TYPES = frozenset(CONDITION_TYPES)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]
Description = Annotated[str | None, Field(default=None, max_length=500, pattern=NO_NUL)]


class Definition(BaseModel):
    """A saved segment definition. `version` is the format version (1), not the segment's version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    root: Condition


_condition = TypeAdapter(Condition)


_MEMBERS = frozenset({"bool", "int", "float", "str", "decimal", "date", "none"})


def _union_member(item: Any) -> bool:
    """Pydantic names the union member it tried (`LastDays`, `int`, `list[…]`): not a field."""
    return isinstance(item, str) and (item in _MEMBERS or "[" in item or item[:1].isupper())


def _path(error: Any, prefix: str) -> str:
    """A readable field path: the discriminator tags Pydantic puts in `loc` are left out."""
    parts: list[str] = [prefix] if prefix else []
    previous: Any = None
    for item in error.get("loc", ()):
        is_tag = isinstance(item, str) and item in _TYPES
        after_slot = previous is None or previous in ("root", "child") or isinstance(previous, int)
        if not (is_tag and after_slot) and not _union_member(item):
            parts.append(str(item))
        previous = item
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, FieldError) and ctx_error.field:
        parts.append(ctx_error.field)
    return ".".join(parts)


def _failed(exc: PydanticError, prefix: str) -> ValidationFailed:
    first = exc.errors()[0]
    where = _path(first, prefix)
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return ValidationFailed(f"{where}: {message}" if where else message, field=where or prefix or None)


def _nul_at(data: Any, path: str) -> str | None:
    """The path of the first text (key or value) holding a NUL character."""
    if isinstance(data, str):
        return path if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            found = _nul_at(key, f"{path}.{key}") or _nul_at(value, f"{path}.{key}")
            if found:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = _nul_at(value, f"{path}.{index}")
            if found:
                return found
    return None


def _refuse_nul(data: Any, field: str) -> None:
    where = _nul_at(data, field)
    if where:
        raise ValidationFailed(f"{where}: text may not contain the NUL character (\\u0000)", field=where)


def parse_definition(data: Any, field: str = "definition") -> Definition:
    """Validate a definition; errors name the path, e.g. `definition.root.children.1.window.last_days`."""
    _refuse_nul(data, field)
    try:
        return Definition.model_validate(data)
    except PydanticError as exc:
        raise _failed(exc, field) from exc


def parse_condition(data: Any, field: str = "rule") -> Any:
    """Validate one condition tree (a rule tag's `rule`)."""
    _refuse_nul(data, field)
    try:
        return _condition.validate_python(data)
    except PydanticError as exc:
        raise _failed(exc, field) from exc


def dump(definition: Definition) -> dict[str, Any]:
    """The JSON stored for a definition (unset options left out)."""
    return definition.model_dump(mode="json", exclude_none=True)


def dump_condition(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = _condition.dump_python(node, mode="json", exclude_none=True)
    return out


# --- API bodies -------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentCreate(_Body):
    name: Name
    description: Description
    kind: Literal["dynamic", "static"] = "dynamic"
    definition: dict[str, Any] | None = Field(
        None, description='Dynamic segments: {"version": 1, "root": {...condition...}}'
    )


class SegmentUpdate(_Body):
    """A new version of the definition (stored versions never change); name and description too."""

    name: Name | None = None
    description: Description
    definition: dict[str, Any] | None = None


class SegmentPreview(_Body):
    definition: dict[str, Any]
    sample: int | None = Field(None, ge=0, le=200, description="Sample size (default: setting)")


Entry = (
    Annotated[int, Field(ge=1, le=2**63 - 1)]
    | Annotated[str, StringConstraints(max_length=300, pattern=NO_NUL)]
)


class StaticMembersChange(_Body):
    """Members of a static segment: customer ids or identities written `TYPE:VALUE`."""

    mode: Literal["replace", "add", "remove"] = "replace"
    entries: list[Entry] = Field(default_factory=list, max_length=1_000_000)


class SegmentPublic(BaseModel):
    id: int
    name: str
    description: str | None
    kind: str
    version: int
    definition: dict[str, Any] | None
    member_count: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    last_rebuilt_at: datetime | None
    archived_at: datetime | None
