"""Segments end to end in one database: versions, rebuilds and incremental evaluation with timeline events
and their reasons, rule tags in dependency order, validation with field paths, cycles, static uploads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from siyu.core.errors import Conflict, ValidationFailed
from siyu.core.settings import get_settings
from siyu.events.tables import Event
from siyu.segments import evaluation, graph, rechecks, service, static
from siyu.segments.schemas import SegmentCreate, SegmentUpdate
from siyu.segments.tables import EvaluationDue, Segment, SegmentMember, SegmentVersion
from siyu.tags import service as tags
from siyu.tags.tables import CustomerTag
from tests.segments.world import World

GOLD = {"type": "trait", "name": "plan", "op": "eq", "value": "gold"}
VIEWS = {"type": "event_count", "event": "Product Viewed", "window": {"last_days": 7}, "value": 3}


def define(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def create(w: World, name: str, root: dict[str, Any], **kw: Any) -> Segment:
    body = SegmentCreate(name=name, definition=define(root))
    return service.create(w.session, body, actor="tester", now=w.now, **kw)


def members(w: World, segment_id: int) -> set[int]:
    q = select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment_id)
    return set(w.session.scalars(q))


def timeline(w: World, segment_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    rows = w.session.execute(
        select(Event.customer_id, Event.name, Event.properties)
        .where(Event.name.in_(["Segment Entered", "Segment Exited"]))
        .order_by(Event.id)
    )
    return [(c, n, p) for c, n, p in rows if p["segment_id"] == segment_id]


def test_create_builds_without_flooding_the_timeline(world: World) -> None:
    w = world
    alice = w.identify("alice", plan="gold")
    w.identify("bob", plan="silver")
    segment = create(w, "金卡", GOLD)
    assert segment.version == 1 and segment.built_version == 1
    assert members(w, segment.id) == {alice} and segment.member_count == 1
    assert segment.last_rebuilt_at == w.now
    assert timeline(w, segment.id) == []  # nothing could listen to a segment that did not exist


def test_first_build_events_when_asked(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_SEGMENT_FIRST_BUILD_EVENTS", "true")
    get_settings.cache_clear()
    w = world
    alice = w.identify("alice", plan="gold")
    segment = create(w, "金卡", GOLD)
    assert timeline(w, segment.id) == [
        (
            alice,
            "Segment Entered",
            {"segment_id": segment.id, "segment_name": "金卡", "version": 1, "reason": "created"},
        )
    ]
    get_settings.cache_clear()


def test_new_version_keeps_old_and_rebuilds_with_reason(world: World) -> None:
    w = world
    alice = w.identify("alice", plan="gold")
    bob = w.identify("bob", plan="silver")
    segment = create(w, "plans", GOLD)
    silver = {**GOLD, "value": "silver"}
    service.update(w.session, segment.id, SegmentUpdate(definition=define(silver)), actor="tester", now=w.now)
    assert segment.version == 2 and members(w, segment.id) == {bob}
    stored = {v.version: v.definition for v in w.session.scalars(select(SegmentVersion))}
    assert stored[1]["root"]["value"] == "gold" and stored[2]["root"]["value"] == "silver"
    changes = [(c, n, p["reason"], p["version"]) for c, n, p in timeline(w, segment.id)]
    assert changes == [
        (alice, "Segment Exited", "definition v2", 2),
        (bob, "Segment Entered", "definition v2", 2),
    ]
    # the same definition again is not a new version
    service.update(w.session, segment.id, SegmentUpdate(definition=define(silver)), actor="tester", now=w.now)
    assert segment.version == 2


def test_incremental_evaluation_enters_and_exits(world: World) -> None:
    w = world
    alice = w.identify("alice", plan="silver")
    segment = create(w, "金卡", GOLD)
    assert members(w, segment.id) == set()
    w.identify("alice", plan="gold")
    outcome = evaluation.evaluate_customers(w.session, [alice], w.now, reasons={alice: "event"})
    assert outcome.changes == {("segment", segment.id): ([alice], [])}
    w.session.refresh(segment)
    assert members(w, segment.id) == {alice} and segment.member_count == 1
    w.identify("alice", plan="silver")
    evaluation.evaluate_customers(w.session, [alice], w.now, reasons={alice: "event"})
    w.session.refresh(segment)
    assert members(w, segment.id) == set() and segment.member_count == 0
    assert [(n, p["reason"]) for _c, n, p in timeline(w, segment.id)] == [
        ("Segment Entered", "event"),
        ("Segment Exited", "event"),
    ]
    # nothing changed: nothing written
    evaluation.evaluate_customers(w.session, [alice], w.now)
    assert len(timeline(w, segment.id)) == 2


def test_rule_tags_and_segments_in_dependency_order(world: World) -> None:
    w = world
    alice = w.identify("alice", plan="gold")
    group = tags.ensure_group(w.session, "会员等级", category="value", kind="rule", exclusive=False)
    tag = tags.ensure_tag(w.session, group.id, "金卡会员", rule=GOLD)
    segment = create(w, "tagged", {"type": "tag", "tag_id": tag.id})  # depends on the rule tag
    assert members(w, segment.id) == set()  # the rule tag has not been evaluated yet
    evaluation.evaluate_customers(w.session, [alice], w.now, reasons={alice: "event"})
    holder = w.session.get(CustomerTag, (alice, tag.id))
    assert holder is not None and holder.added_by == f"rule:{tag.id}"
    assert members(w, segment.id) == {alice}  # same pass: the tag first, then the segment
    w.identify("alice", plan="silver")
    evaluation.evaluate_customers(w.session, [alice], w.now)
    assert w.session.get(CustomerTag, (alice, tag.id)) is None and members(w, segment.id) == set()
    # full rebuild of the rule tag agrees
    w.identify("alice", plan="gold")
    assert evaluation.rebuild_tag(w.session, tag.id, w.now) == (1, 0)


def test_segment_of_segments_and_cycles(world: World) -> None:
    w = world
    alice = w.identify("alice", plan="gold")
    base = create(w, "base", GOLD)
    derived = create(w, "derived", {"type": "segment", "segment_id": base.id})
    assert members(w, derived.id) == {alice}
    loop = define({"type": "segment", "segment_id": derived.id})
    with pytest.raises(ValidationFailed) as err:
        service.update(w.session, base.id, SegmentUpdate(definition=loop), actor="t", now=w.now)
    assert err.value.field == "definition" and "refer back" in err.value.message
    with pytest.raises(Conflict):
        service.archive(w.session, base.id, now=w.now)  # derived uses it
    service.archive(w.session, derived.id, now=w.now)
    service.archive(w.session, base.id, now=w.now)


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (
            {
                "version": 1,
                "root": {
                    "type": "and",
                    "children": [GOLD, {"type": "trait", "name": "x", "op": "in", "value": []}],
                },
            },
            "definition.root.children.1.value",
        ),
        (
            {"version": 1, "root": {"type": "event_count", "event": "x", "window": {"last_days": 0}}},
            "definition.root.window.last_days",
        ),
        (
            {
                "version": 1,
                "root": {"type": "order", "metric": "spend", "op": "within_last_days", "value": 3},
            },
            "definition.root.op",
        ),
        ({"version": 1, "root": {"type": "segment", "segment_id": 999}}, "definition"),
        ({"version": 1, "root": {"type": "tag", "tag_id": 999}}, "definition"),
        ({"version": 1, "root": {"type": "teleport"}}, "definition.root"),
        ({"root": GOLD, "extra": 1}, "definition.extra"),
    ],
)
def test_validation_names_the_field(world: World, definition: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.create(
            world.session, SegmentCreate(name="bad", definition=definition), actor="t", now=world.now
        )
    assert err.value.field == field, err.value.message
    assert world.session.scalar(select(Segment.id).where(Segment.name == "bad")) is None


def _due(w: World, cid: int) -> datetime | None:
    w.session.expire_all()
    row = w.session.get(EvaluationDue, cid)
    return None if row is None else row.due_at


def _clear(w: World) -> None:
    w.session.execute(delete(EvaluationDue))
    w.session.flush()


def test_window_rechecks_are_scheduled_for_when_the_oldest_view_leaves(world: World) -> None:
    w = world
    for days in (1, 2, 3):  # local days 10-31, 10-30, 10-29 (20:00 in Shanghai)
        alice = w.track("alice", "Product Viewed", days)
    bob = w.track("bob", "Product Viewed", 6)  # local 10-26: leaves the window when 11-02 starts
    leaves = datetime(2026, 11, 4, 16, 0, tzinfo=UTC)  # alice's 10-29 leaves when local 11-05 starts
    segment = create(w, "viewers", VIEWS)
    assert members(w, segment.id) == {alice}
    # a full build queues only the changes of the next two days: bob's, not yet alice's
    assert _due(w, bob) == datetime(2026, 11, 1, 16, 0, tzinfo=UTC) and _due(w, alice) is None
    # evaluating a customer queues their exact next change, however far
    evaluation.evaluate_customers(w.session, [alice], w.now)
    assert _due(w, alice) == leaves
    # the periodic job adds each day's slice: on 11-03 it reaches alice's change
    _clear(w)
    roots = [t.root for t in graph.load_targets(w.session)]
    rechecks.schedule_all(w.session, roots, since=w.now, now=w.now + timedelta(days=1))
    assert _due(w, alice) is None
    rechecks.schedule_all(w.session, roots, since=w.now + timedelta(days=1), now=w.now + timedelta(days=2))
    assert _due(w, alice) == leaves
    # a job that did not run for ten days catches up: the missed change is due at once
    _clear(w)
    late = w.now + timedelta(days=10)
    rechecks.schedule_all(w.session, roots, since=w.now, now=late)
    assert _due(w, alice) == late
    # at that moment the customer drops out, with the reason
    evaluation.evaluate_customers(
        w.session, [alice], leaves + timedelta(seconds=1), reasons={alice: "recheck"}
    )
    assert members(w, segment.id) == set()
    assert timeline(w, segment.id)[-1][1:] == (
        "Segment Exited",
        {"segment_id": segment.id, "segment_name": "viewers", "version": 1, "reason": "recheck"},
    )


def test_static_segments_change_only_by_upload(world: World) -> None:
    w = world
    alice, bob = w.identify("alice"), w.identify("bob")
    segment = service.create(w.session, SegmentCreate(name="名单", kind="static"), actor="t", now=w.now)
    assert static.replace_static(w.session, segment, [alice, bob], "replace", actor="t", now=w.now) == (2, 0)
    assert static.replace_static(w.session, segment, [bob], "remove", actor="t", now=w.now) == (0, 1)
    assert static.replace_static(w.session, segment, [alice], "replace", actor="t", now=w.now) == (0, 0)
    evaluation.evaluate_customers(w.session, [alice, bob], w.now)
    assert members(w, segment.id) == {alice}
    with pytest.raises(Conflict):
        evaluation.rebuild(w.session, segment.id, w.now)
    assert [p["reason"] for _c, _n, p in timeline(w, segment.id)] == ["upload by t"] * 3


def test_rebuild_counts_what_changed(world: World) -> None:
    w = world
    alice, bob = w.identify("alice", plan="gold"), w.identify("bob", plan="gold")
    w.identify("carol", plan="silver")
    segment = service.create(
        w.session, SegmentCreate(name="gold", definition=define(GOLD)), actor="t", now=w.now, build=False
    )
    first = evaluation.rebuild(w.session, segment.id, w.now)  # a first build: no events, still counted
    assert (first.entered, first.exited, first.members) == (2, 0, 2)
    w.identify("bob", plan="silver")
    w.identify("carol", plan="gold")
    again = evaluation.rebuild(w.session, segment.id, w.now)
    assert (again.entered, again.exited, again.members) == (1, 1, 2)
    assert members(w, segment.id) == {alice, w.user("carol")}
    assert bob not in members(w, segment.id)
