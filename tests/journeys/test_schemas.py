"""Journey definitions: validation errors name the field path; the graph must be runnable."""

# ruff: noqa: E501 (the table of cases reads best one case per line)

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from siyu.core.errors import ValidationFailed
from siyu.journeys.schemas import (
    DateTraitTrigger,
    JourneyDefinition,
    ReentryNever,
    SendNode,
    WaitNode,
    parse_definition,
)

BASE: dict[str, Any] = {
    "name": "t",
    "triggers": [{"type": "event", "event": "Order Completed", "where": [{"property": "total", "op": "gte",
                                                                          "value": 100}]}],
    "start": "send",
    "nodes": [
        {"type": "send", "id": "send", "channel": "wecom", "template_id": "thanks", "next": "wait"},
        {"type": "wait", "id": "wait", "delay": {"type": "duration", "days": 1}, "next": "check"},
        {"type": "condition", "id": "check", "condition": {"type": "tag", "tag_id": 3}, "yes": "done",
         "no": "send"},
        {"type": "exit", "id": "done"},
    ],
}  # fmt: skip


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def test_defaults_and_json_round_trip() -> None:
    d = parse_definition(BASE)
    assert d.format == 1 and d.reentry == ReentryNever() and d.goal is None
    send = d.node("send")
    assert isinstance(send, SendNode)
    assert (send.purpose, send.priority, send.mass, send.expiry.type) == (
        "marketing",
        "normal",
        False,
        "drop_after",
    )
    stored = d.model_dump(mode="json")
    assert stored["nodes"][0]["expiry"] == {"type": "drop_after", "hours": 24}
    assert JourneyDefinition.model_validate(stored) == d


def test_a_loop_through_a_wait_is_allowed() -> None:
    d = parse_definition(BASE)  # send → wait → check → send
    assert isinstance(d.node("wait"), WaitNode)


CASES: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    ("missing name", lambda d: d.pop("name"), "name", "Field required"),
    ("no trigger", lambda d: d.update(triggers=[]), "triggers", "at least 1"),
    ("unknown trigger", lambda d: d["triggers"].append({"type": "webhook_in"}), "triggers[1]", "does not match"),
    ("bad cron", lambda d: d["triggers"].append({"type": "schedule", "cron": "0 25 * * *", "segment_id": 1}),
     "triggers[1].cron", "hour: 25 is outside 0-23"),
    ("cron never fires", lambda d: d["triggers"].append({"type": "schedule", "cron": "0 9 31 4 *", "segment_id": 1}),
     "triggers[1].cron", "never fires"),
    ("bad zone", lambda d: d["triggers"].append({"type": "schedule", "cron": "@daily", "segment_id": 1,
                                                 "timezone": "Asia/Atlantis"}), "triggers[1].timezone", "unknown"),
    ("date trait seconds", lambda d: d["triggers"].append({"type": "date_trait", "trait": "birthday",
                                                           "at": "10:00:30"}), "triggers[1].at", "HH:MM"),
    ("filter op needs list", lambda d: d["triggers"][0]["where"][0].update(op="in"),
     "triggers[0].where[0]", "needs a list"),
    ("unknown node type", lambda d: d["nodes"][0].update(type="sms"), "nodes[0]", "does not match"),
    ("missing template", lambda d: d["nodes"][0].pop("template_id"), "nodes[0].template_id", "Field required"),
    ("bad purpose", lambda d: d["nodes"][0].update(purpose="spam"), "nodes[0].purpose", "Input should be"),
    ("extra field", lambda d: d["nodes"][0].update(colour="red"), "nodes[0].colour", "Extra inputs"),
    ("zero wait", lambda d: d["nodes"][1]["delay"].update(days=0), "nodes[1].delay", "more than 0"),
    ("negative hours", lambda d: d["nodes"][1]["delay"].update(hours=-1), "nodes[1].delay.hours", "greater than"),
    ("bad condition", lambda d: d["nodes"][2]["condition"].update(tag_id=0), "nodes[2].condition.tag_id",
     "greater than or equal to 1"),
    ("condition without type", lambda d: d["nodes"][2].update(condition={}), "nodes[2].condition",
     "object with a `type`"),
    ("missing target", lambda d: d["nodes"][2].update(no="nowhere"), "nodes[2].no", "no node called 'nowhere'"),
    ("bad start", lambda d: d.update(start="begin"), "start", "no node called 'begin'"),
    ("duplicate id", lambda d: d["nodes"].append({"type": "exit", "id": "done"}), "nodes[4].id", "duplicate"),
    ("unreachable", lambda d: d["nodes"].append({"type": "exit", "id": "later"}), "nodes[4]", "not reachable"),
    ("instant loop", lambda d: d["nodes"][2].update(no="check"), "nodes[2]", "loop check → check has no wait"),
    ("no exit", lambda d: (d["nodes"][2].update(no="limbo"), d["nodes"].append({"type": "wait", "id": "limbo", "delay": {"type": "duration", "days": 1}, "next": "limbo"})), "nodes[4]", "no exit can be reached from node 'limbo'"),
    ("bad node id", lambda d: d["nodes"][3].update(id="no spaces"), "nodes[3].id", "should match pattern"),
    ("split names", lambda d: d["nodes"].__setitem__(0, {"type": "split", "id": "send", "variants": [
        {"name": "holdout", "weight": 1, "next": "wait"}]}), "nodes[0].variants", "not 'holdout'"),
    ("split holdout", lambda d: d["nodes"].__setitem__(0, {"type": "split", "id": "send", "holdout_percent": 95,
        "variants": [{"name": "A", "weight": 1, "next": "wait"}]}), "nodes[0].holdout_percent", "less than"),
    ("task staff", lambda d: d["nodes"].__setitem__(1, {"type": "task", "id": "wait", "title": "call",
        "sla_hours": 2, "assignee": "staff", "done": "check", "not_done_in_time": "done"}), "nodes[1]",
     "needs a staff_id"),
    ("webhook url", lambda d: d["nodes"].__setitem__(0, {"type": "webhook", "id": "send", "url": "ftp://x",
                                                         "next": "wait"}), "nodes[0].url", "pattern"),
    ("reentry days", lambda d: d.update(reentry={"type": "after_days", "days": 0}), "reentry.days", "greater"),
    ("goal window", lambda d: d.update(goal={"event": "Order Completed", "within_hours": 0}),
     "goal.within_hours", "greater"),
    ("format", lambda d: d.update(format=2), "format", "Input should be 1"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_errors_name_the_field(change: Callable[[dict[str, Any]], object], field: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_definition(mutated(change))
    assert err.value.field == field
    assert message in err.value.message
    assert err.value.message.startswith(f"{field}: ")


def test_every_error_count_is_reported() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_definition(mutated(lambda d: (d.pop("name"), d.pop("start"))))
    assert "(and 1 more)" in err.value.message


def test_not_an_object_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_definition(["not", "a", "definition"])
    assert err.value.field is None and "definition" in err.value.message


def test_date_trait_defaults() -> None:
    trigger = DateTraitTrigger.model_validate({"type": "date_trait", "trait": "birthday"})
    assert (trigger.offset_days, trigger.at.isoformat(), trigger.annual) == (0, "10:00:00", False)
