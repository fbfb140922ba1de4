"""Segment conditions in words ("近 7 天 浏览商品（品类=精华）≥ 3 次"): a pure rendering of a stored
condition tree (the JSON a definition keeps) in Chinese or English, and of what explain saw at a leaf.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from siyu.core.settings import get_settings
from siyu.web import i18n

SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}
DATE_OPS = ("anniversary_within_days", "within_last_days", "before_days_ago", "within_next_days")
GROUPS = ("and", "or", "not")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Names:
    """Names of the tags and segments a tree refers to (by id); unknown ids show as `#id`."""

    tags: Mapping[int, str] = field(default_factory=dict)
    segments: Mapping[int, str] = field(default_factory=dict)


@dataclass
class Phrase:
    """One node in words; a group (and / or / not) has its children."""

    type: str
    text: str
    children: list[Phrase] = field(default_factory=list)


def slug(name: str) -> str:
    return _SLUG.sub("_", name.lower()).strip("_")


def _t(lang: str, key: str, **values: Any) -> str:
    return i18n.translate(lang, key, **values)


def _known(lang: str, prefix: str, name: str) -> str:
    """The label of an event or property name when the console knows it, else the name itself."""
    text = i18n.MESSAGES.get(lang, {}).get(f"{prefix}{slug(name)}")
    return text if text is not None else name


def event_label(lang: str, name: str) -> str:
    return _known(lang, "ev_", name)


def _value(lang: str, value: Any) -> str:
    if isinstance(value, bool):
        return _t(lang, "yes" if value else "no")
    if isinstance(value, list):
        return _t(lang, "list_sep").join(_value(lang, v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _labels(lang: str, prefix: str, codes: list[str]) -> str:
    return _t(lang, "list_sep").join(i18n.label(lang, prefix, str(c)) for c in codes)


def compare(lang: str, op: str, value: Any) -> str:
    """`≥ 3`, `属于 gold、vip`, `有值`."""
    if op in SYMBOLS:
        return f"{SYMBOLS[op]} {_value(lang, value)}"
    if op in ("exists", "not_exists"):
        return _t(lang, f"op_{op}")
    return _t(lang, f"op_{op}", value=_value(lang, value))


def _window(lang: str, window: Mapping[str, Any] | None) -> str:
    if not window:
        return _t(lang, "window_ever")
    if "last_days" in window:
        return _t(lang, "window_last_days", n=window["last_days"])
    first, last = window["between"]
    return _t(lang, "window_between", first=first, last=last)


def filters_text(lang: str, where: list[Mapping[str, Any]]) -> str:
    if not where:
        return ""
    parts = []
    for f in where:
        name = _known(lang, "prop_", str(f["property"]))
        op, value = str(f["op"]), f.get("value")
        if op in SYMBOLS:
            parts.append(_t(lang, "filter_compare", name=name, op=SYMBOLS[op], value=_value(lang, value)))
        else:
            parts.append(_t(lang, "filter_phrase", name=name, phrase=compare(lang, op, value)))
    return _t(lang, "filters", filters=_t(lang, "filters_sep").join(parts))


def _money(value: Any) -> str:
    """Amounts in conditions are in major units of the brand's currency (yuan)."""
    return i18n.format_money(str(value), get_settings().default_currency)


def _trait(lang: str, node: Mapping[str, Any]) -> str:
    name, op = node["name"], node["op"]
    if op in DATE_OPS:
        return _t(lang, f"cond_trait_{op}", name=name, n=node.get("value"))
    return _t(lang, "cond_trait", name=name, compare=compare(lang, op, node.get("value")))


def _order(lang: str, node: Mapping[str, Any]) -> str:
    metric, op, value = node["metric"], node["op"], node.get("value")
    label = _t(lang, f"order_metric_{metric}")
    if metric in ("count", "spend", "aov"):
        shown = _money(value) if metric != "count" else _value(lang, value)
        window = _window(lang, node.get("window")) if node.get("window") else ""
        return _t(lang, "cond_order_metric", window=window, metric=label, op=SYMBOLS[op], value=shown)
    if op in ("exists", "not_exists"):
        return _t(lang, f"cond_order_{op}")
    if op in ("before", "after"):
        return _t(lang, f"cond_order_{op}", metric=label, day=value)
    return _t(lang, f"cond_order_{op}", metric=label, n=value)


def _bought(lang: str, node: Mapping[str, Any]) -> str:
    kind = next(k for k in ("product_id", "sku", "category") if node.get(k) is not None)
    what = _t(lang, f"bought_{kind}", value=node[kind])
    window = _window(lang, node.get("window")) if node.get("window") else ""
    return _t(lang, "cond_bought", window=window, what=what)


def _rfm(lang: str, node: Mapping[str, Any]) -> str:
    if node.get("tiers"):
        return _t(lang, "cond_rfm_tiers", tiers=_labels(lang, "tier_", node["tiers"]))
    score = str(node["score"]).upper()
    return _t(lang, "cond_rfm_score", score=score, op=SYMBOLS[node["op"]], value=node["value"])


def _owner(lang: str, node: Mapping[str, Any]) -> str:
    if node.get("staff"):
        return _t(lang, "cond_owner_staff", values=_value(lang, node["staff"]))
    if node.get("departments"):
        return _t(lang, "cond_owner_departments", values=_value(lang, node["departments"]))
    return _t(lang, "cond_owner_has" if node.get("has_owner") else "cond_owner_none")


def _consent(lang: str, node: Mapping[str, Any]) -> str:
    return _t(
        lang,
        "cond_consent",
        channel=i18n.label(lang, "chan_", node["channel"]),
        purpose=i18n.label(lang, "purpose_", node.get("purpose", "marketing")),
        status=i18n.label(lang, "consent_", node.get("status", "granted")),
    )


def leaf_text(lang: str, node: Mapping[str, Any], names: Names) -> str:
    """One leaf condition in words."""
    kind = node.get("type")
    if kind == "trait":
        return _trait(lang, node)
    if kind == "identity":
        key = "cond_identity_present" if node.get("present", True) else "cond_identity_absent"
        return _t(lang, key, identity=i18n.label(lang, "id_", node["identity_type"]))
    if kind == "tag":
        name = names.tags.get(node["tag_id"], f"#{node['tag_id']}")
        return _t(lang, "cond_tag_has" if node.get("has", True) else "cond_tag_lacks", name=name)
    if kind == "event_count":
        return _t(  # "近 7 天 浏览商品（品类=精华）≥ 3 次": no space after a full-width parenthesis
            lang,
            "cond_event_count",
            window=_window(lang, node.get("window")),
            event=event_label(lang, node["event"]),
            filters=filters_text(lang, node.get("where") or []),
            op=SYMBOLS[node.get("op", "gte")],
            value=node.get("value", 1),
        ).replace("） ", "）")
    if kind == "order":
        return _order(lang, node)
    if kind == "bought":
        return _bought(lang, node)
    if kind == "rfm":
        return _rfm(lang, node)
    if kind == "lifecycle":
        return _t(lang, "cond_lifecycle", stages=_labels(lang, "stage_", node["stages"]))
    if kind == "owner":
        return _owner(lang, node)
    if kind == "live_code":
        return _t(lang, "cond_live_code", values=_value(lang, node["codes"]))
    if kind == "consent":
        return _consent(lang, node)
    if kind == "segment":
        name = names.segments.get(node["segment_id"], f"#{node['segment_id']}")
        key = "cond_segment_in" if node.get("member", True) else "cond_segment_out"
        return _t(lang, key, name=name)
    return _t(lang, "cond_unknown", type=kind)


def kids(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if node.get("type") in ("and", "or"):
        return list(node.get("children") or [])
    if node.get("type") == "not":
        return [node["child"]]
    return []


def describe(lang: str, node: Mapping[str, Any], names: Names) -> Phrase:
    """The tree in words: groups carry their children."""
    kind = str(node.get("type"))
    if kind in GROUPS:
        return Phrase(kind, _t(lang, f"cond_{kind}"), [describe(lang, k, names) for k in kids(node)])
    return Phrase(kind, leaf_text(lang, node, names))


def sentence(lang: str, node: Mapping[str, Any], names: Names) -> str:
    """The tree on one line, groups in parentheses: for a journey's condition node."""
    kind = node.get("type")
    if kind in ("and", "or"):
        parts = [sentence(lang, k, names) for k in kids(node)]
        text = _t(lang, f"join_{kind}").join(parts)
        return f"({text})" if len(parts) > 1 else text
    if kind == "not":
        return _t(lang, "join_not", text=sentence(lang, node["child"], names))
    return leaf_text(lang, node, names)


def seen_items(lang: str, seen: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What explain saw at a leaf, as (label, value) pairs in the page's language."""
    out: list[tuple[str, str]] = []
    for key, value in seen.items():
        out.append((i18n.label(lang, "seen_", key), _seen_value(lang, key, value)))
    return out


def _seen_value(lang: str, key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key == "window" and isinstance(value, Mapping):
        return _t(lang, "seen_window_value", first=value.get("from"), last=value.get("to"))
    if key == "counted_from":
        return i18n.label(lang, "seen_source_", slug(str(value)))
    if key in ("spend", "aov"):
        return _money(value)
    prefixes = {"tier": "tier_", "stage": "stage_", "status": "consent_"}
    if key in prefixes:
        return i18n.label(lang, prefixes[key], str(value))
    if isinstance(value, datetime):
        return i18n.format_time(value, get_settings().timezone)
    return _value(lang, value)
