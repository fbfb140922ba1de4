"""Journey definitions in words for the console: triggers, each node's step, its successors, re-entry and
the goal — a pure rendering of the stored JSON in Chinese or English (conditions via `condition_text`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from siyu.web import condition_text as words
from siyu.web import i18n

SUCCESSORS = ("next", "yes", "no", "on_event", "on_timeout", "done", "not_done_in_time")


def _t(lang: str, key: str, **values: Any) -> str:
    return i18n.translate(lang, key, **values)


def duration(lang: str, spec: Mapping[str, Any] | None) -> str:
    """`1 天 2 小时`; a time-of-day wait reads `10:00`."""
    if not spec:
        return "—"
    if spec.get("type") == "time_of_day":
        return _t(lang, "jt_until", at=spec.get("at"))
    parts = [_t(lang, f"jt_{unit}", n=spec[unit]) for unit in ("days", "hours", "minutes") if spec.get(unit)]
    return " ".join(parts) or _t(lang, "jt_minutes", n=0)


def _filters(lang: str, where: list[Mapping[str, Any]] | None) -> str:
    return words.filters_text(lang, list(where or []))


def _segment(names: words.Names, segment_id: Any) -> str:
    return names.segments.get(int(segment_id), f"#{segment_id}")


def trigger_text(lang: str, trigger: Mapping[str, Any], names: words.Names) -> str:
    kind = trigger.get("type")
    if kind == "event":
        event = words.event_label(lang, str(trigger.get("event")))
        return _t(lang, "jt_trigger_event", event=event, filters=_filters(lang, trigger.get("where")))
    if kind in ("segment_entered", "segment_exited"):
        return _t(lang, f"jt_trigger_{kind}", name=_segment(names, trigger.get("segment_id")))
    if kind == "date_trait":
        offset = int(trigger.get("offset_days") or 0)
        shift = (
            _t(lang, "jt_offset_before" if offset < 0 else "jt_offset_after", n=abs(offset)) if offset else ""
        )
        text = _t(
            lang,
            "jt_trigger_date_trait",
            trait=trigger.get("trait"),
            offset=shift,
            at=trigger.get("at", "10:00"),
        )
        return text + (_t(lang, "jt_annual") if trigger.get("annual") else "")
    if kind == "schedule":
        segment = _segment(names, trigger.get("segment_id"))
        return _t(lang, "jt_trigger_schedule", cron=trigger.get("cron"), name=segment)
    if kind == "manual":
        return _t(lang, "jt_trigger_manual")
    return str(kind)


def node_text(lang: str, node: Mapping[str, Any], names: words.Names) -> str:
    """What one node does, in a line."""
    kind = node.get("type")
    if kind == "wait":
        return _t(lang, "jt_wait", delay=duration(lang, node.get("delay")))
    if kind == "wait_event":
        event = words.event_label(lang, str(node.get("event")))
        timeout = duration(lang, node.get("timeout"))
        return _t(
            lang, "jt_wait_event", event=event, filters=_filters(lang, node.get("where")), timeout=timeout
        )
    if kind == "condition":
        return words.sentence(lang, node.get("condition") or {}, names)
    if kind == "split":
        sep = _t(lang, "list_sep")
        variants = sep.join(f"{v.get('name')} {v.get('weight')}" for v in node.get("variants") or [])
        holdout = f"{float(node.get('holdout_percent') or 0):g}"
        return _t(lang, "jt_split", variants=variants, holdout=holdout)
    if kind == "send":
        channel = i18n.label(lang, "chan_", str(node.get("channel")))
        purpose = i18n.label(lang, "purpose_", str(node.get("purpose")))
        text = _t(lang, "jt_send", channel=channel, template=node.get("template_id"), purpose=purpose)
        return text + (_t(lang, "jt_urgent") if node.get("priority") == "urgent" else "")
    if kind == "tag":
        name = names.tags.get(int(node.get("tag_id") or 0), f"#{node.get('tag_id')}")
        return _t(lang, "jt_tag_remove" if node.get("action") == "remove" else "jt_tag_add", name=name)
    if kind == "update_trait":
        value = json.dumps(node.get("value"), ensure_ascii=False)
        return _t(lang, "jt_update_trait", trait=node.get("trait"), value=value)
    if kind == "task":
        return _t(lang, "jt_task", title=node.get("title"), hours=node.get("sla_hours"))
    if kind == "webhook":
        return _t(lang, "jt_webhook", url=node.get("url"))
    if kind == "exit":
        return _t(lang, "jt_exit", reason=node.get("reason"))
    return str(kind)


def successors(lang: str, node: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, target node id) for every way out of a node."""
    out = [(i18n.label(lang, "jt_to_", key), str(node[key])) for key in SUCCESSORS if node.get(key)]
    for variant in node.get("variants") or []:
        out.append((str(variant.get("name")), str(variant.get("next"))))
    return out


def reentry_text(lang: str, reentry: Mapping[str, Any] | None) -> str:
    kind = (reentry or {}).get("type", "never")
    return _t(lang, f"jt_reentry_{kind}", days=(reentry or {}).get("days"))


def goal_text(lang: str, goal: Mapping[str, Any] | None) -> str | None:
    if not goal:
        return None
    event = words.event_label(lang, str(goal.get("event")))
    text = _t(
        lang,
        "jt_goal",
        event=event,
        filters=_filters(lang, goal.get("where")),
        hours=goal.get("within_hours"),
    )
    return text + (_t(lang, "jt_goal_exit") if goal.get("exit_on_goal") else "")
