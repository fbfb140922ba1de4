"""Request and response bodies of the tag API, and the checks on names, categories, kinds and rules
(a rule is a segment condition tree, parsed by `siyu.segments.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from siyu.core.errors import ValidationFailed
from siyu.segments.schemas import dump_condition, parse_condition
from siyu.tags.tables import CATEGORIES, KINDS

Category = Literal["source", "behavior", "value", "interest", "lifecycle", "custom"]
Kind = Literal["static", "rule", "predictive"]
assert set(Category.__args__) == set(CATEGORIES) and set(Kind.__args__) == set(KINDS)  # type: ignore[attr-defined]

CATEGORY_LABELS = {
    "source": "来源",
    "behavior": "行为",
    "value": "价值",
    "interest": "兴趣",
    "lifecycle": "生命周期",
    "custom": "自定义",
}
KIND_LABELS = {"static": "手动/导入", "rule": "规则计算", "predictive": "模型预测"}


def no_nul(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters: refuse them at the edge, with the field named."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Clean = AfterValidator(no_nul)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Clean]
Description = Annotated[str | None, Field(default=None, max_length=500), Clean]
Reason = Annotated[str | None, Field(default=None, max_length=255), Clean]
MAX_ID = 2**63 - 1
# A list entry: a customer id, or an identity as `TYPE:VALUE` (e.g. "phone:13912345678").
Entry = Annotated[int, Field(ge=1, le=MAX_ID)] | Annotated[str, StringConstraints(max_length=300), Clean]
MAX_ENTRIES = 1_000_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagGroupCreate(_Body):
    name: Name
    category: Category = "custom"
    kind: Kind = "static"
    exclusive: bool = Field(False, description="At most one tag of this group per customer")
    description: Description


class TagGroupUpdate(_Body):
    """Every field optional; `kind` cannot change (tags of another kind would be inconsistent)."""

    name: Name | None = None
    category: Category | None = None
    exclusive: bool | None = None
    description: Description


class TagGroupPublic(BaseModel):
    id: int
    name: str
    category: str
    category_label: str
    kind: str
    kind_label: str
    exclusive: bool
    description: str | None
    created_at: datetime
    archived_at: datetime | None
    tags_count: int


class TagCreate(_Body):
    group_id: int = Field(ge=1, le=2**31 - 1)
    name: Name
    description: Description
    rule: dict[str, Any] | None = Field(
        None, description="Rule tags only: a segment condition tree (same language as segments)"
    )


class TagUpdate(_Body):
    name: Name | None = None
    description: Description
    rule: dict[str, Any] | None = None


class TagPublic(BaseModel):
    id: int
    group_id: int
    group: str
    category: str
    kind: str
    exclusive: bool
    name: str
    description: str | None
    rule: dict[str, Any] | None
    rule_version: int
    created_at: datetime
    archived_at: datetime | None
    members: int


class TagMembersChange(_Body):
    """Customers to tag and untag: ids, or identities written `TYPE:VALUE`."""

    add: list[Entry] = Field(default_factory=list, max_length=MAX_ENTRIES)
    remove: list[Entry] = Field(default_factory=list, max_length=MAX_ENTRIES)
    reason: Reason


class SegmentApply(_Body):
    segment_id: int = Field(ge=1, le=2**31 - 1)
    action: Literal["add", "remove"] = "add"
    reason: Reason


class RejectedEntry(BaseModel):
    list: str  # "add", "remove" or "file"
    line: int  # 1-based line of the file, or position in the list
    value: str
    reason: str


class BulkResultPublic(BaseModel):
    tag_id: int
    added: int
    removed: int
    unchanged: int
    displaced: int = Field(description="Other tags of an exclusive group removed because of this change")
    redirected: int = Field(description="Entries naming a merged customer, applied to the survivor")
    rejected: list[RejectedEntry]


def check_name(value: str, field: str = "name") -> str:
    """The same rule as `Name`, for callers that do not go through a schema."""
    name = value.strip()
    if "\x00" in name:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if not 1 <= len(name) <= 100:
        raise ValidationFailed(f"{field} must be 1-100 characters (after trimming)", field=field)
    return name


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValidationFailed(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def check_rule(rule: Any) -> dict[str, Any]:
    """A rule as it will be stored: parsed (errors name the path, e.g. `rule.children.0.value`) and
    normalised by the segment condition language."""
    if not isinstance(rule, dict) or not rule:
        raise ValidationFailed("rule must be a non-empty JSON object (a condition tree)", field="rule")
    if _has_nul(rule):
        raise ValidationFailed("rule must not contain NUL characters", field="rule")
    return dump_condition(parse_condition(rule, "rule"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refers_to_tag(rule: Any, tag_id: int) -> bool:
    """Whether a condition tree tests the tag `tag_id` itself (a rule tag must not depend on itself)."""
    if isinstance(rule, dict):
        if rule.get("type") == "tag" and rule.get("tag_id") == tag_id:
            return True
        return any(refers_to_tag(v, tag_id) for v in rule.values())
    if isinstance(rule, list):
        return any(refers_to_tag(v, tag_id) for v in rule)
    return False
