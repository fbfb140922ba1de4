"""What a message template can use: the variable schema checked at save time, and the context built for
one customer at send time (traits, stats, tags, owner advisor, coupon, journey, trigger properties).

A schema is a nested mapping; a leaf names a type (`str`, `int`, `money` (minor units), `datetime`, `date`,
`list`, `bool`, `float`) or `any` (not checked further, e.g. the trigger's properties).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

LEAF_TYPES: dict[str, type | None] = {
    "str": str, "int": int, "float": float, "bool": bool, "money": int, "date": date, "datetime": datetime,
    "list": list, "any": None,
}  # fmt: skip
MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
STATS: dict[str, str] = {
    "first_seen_at": "datetime", "last_seen_at": "datetime", "events_count": "int", "orders_count": "int",
    "total_spent_minor": "money", "refunded_minor": "money", "first_order_at": "datetime",
    "last_order_at": "datetime", "currency": "str",
}  # fmt: skip


def context_schema(
    traits: Mapping[str, str] | Sequence[str] = (), stats: Mapping[str, str] = STATS
) -> dict[str, Any]:
    """The variables templates may use; `traits` are the brand's known trait names (name → type, or names)."""
    trait_types = dict(traits) if isinstance(traits, Mapping) else dict.fromkeys(traits, "any")
    return {
        "customer": {
            "id": "int",
            "name": "str",
            "timezone": "str",
            "traits": trait_types,
            "stats": dict(stats),
            "tags": "list",
            "owner": {"name": "str", "userid": "str"},
        },
        "coupon": {"code": "str", "amount_minor": "money", "currency": "str", "expires_at": "datetime"},
        "journey": {"id": "int", "name": "str", "node": "str"},
        "trigger": "any",
        "now": "datetime",
    }


def _dotted(parts: Sequence[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(parts))


def check_path(path: Sequence[str | int], schema: Mapping[str, Any]) -> str | None:
    """None if `customer.traits.x`-style `path` is available in `schema`, else what is wrong with it."""
    node: Any = schema
    for i, part in enumerate(path):
        if isinstance(part, str) and part.startswith("_"):
            return f"{_dotted(path[: i + 1])}: names starting with _ are not allowed"
        if isinstance(node, Mapping):
            if part in node:
                node = node[part]
                continue
            if i > 0 and part in MAPPING_METHODS:
                return None
            known = ", ".join(sorted(str(k) for k in node)) or "nothing"
            where = f"in {_dotted(path[:i])}" if i else "at the top level"
            return f"unknown variable {_dotted(path[: i + 1])} (known {where}: {known})"
        kind = LEAF_TYPES.get(str(node))
        if kind is None:
            return None  # `any`: not checked further
        if isinstance(part, int) and kind in (list, str):
            return None
        if isinstance(part, str) and hasattr(kind, part):
            return None  # a method such as str.upper or datetime.year
        return f"{_dotted(path[:i])} is {node}: it has no {part!r}"
    return None


def build_context(
    *,
    customer_id: int,
    timezone: str,
    name: str = "",
    traits: Mapping[str, Any] | None = None,
    known_traits: Sequence[str] = (),
    stats: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    owner: Mapping[str, str] | None = None,
    coupon: Mapping[str, Any] | None = None,
    journey: Mapping[str, Any] | None = None,
    trigger: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The render context for one customer. Every known trait and stat is present (None when the customer
    has no value, which renders as empty text), so a template that validated never fails on a gap."""
    all_traits = {**dict.fromkeys(known_traits), **(traits or {})}
    return {
        "customer": {
            "id": customer_id,
            "name": name,
            "timezone": timezone,
            "traits": all_traits,
            "stats": {**dict.fromkeys(STATS), **(stats or {})},
            "tags": list(tags),
            "owner": {"name": "", "userid": "", **(owner or {})},
        },
        "coupon": {"code": "", "amount_minor": None, "currency": "CNY", "expires_at": None, **(coupon or {})},
        "journey": {"id": None, "name": "", "node": "", **(journey or {})},
        "trigger": dict(trigger or {}),
        "now": now,
    }
