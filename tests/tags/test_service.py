"""The tag service contract: ensure_* idempotent, apply set-based, idempotent, exclusive, with history
and timeline events, merged ids resolved to the survivor."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.customers.tables import Customer
from siyu.events.tables import Event
from siyu.tags import service
from siyu.tags.tables import CustomerTag, TagChange
from tests.tags.conftest import AT, counting, make_customers


def members(session: Session, tag_id: int) -> list[int]:
    query = select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag_id)
    return sorted(session.scalars(query))


def history(session: Session, cid: int) -> list[tuple[int, str, str, str | None]]:
    rows = session.execute(
        select(TagChange.tag_id, TagChange.action, TagChange.actor, TagChange.reason)
        .where(TagChange.customer_id == cid)
        .order_by(TagChange.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def timeline(session: Session, cid: int) -> list[tuple[str, dict[str, object]]]:
    rows = session.execute(
        select(Event.name, Event.properties).where(Event.customer_id == cid).order_by(Event.id)
    )
    return [(n or "", p) for n, p in rows]


def test_ensure_group_and_tag_are_idempotent(session: Session) -> None:
    g1 = service.ensure_group(session, " 生命周期 ", category="lifecycle", kind="rule", exclusive=True)
    g2 = service.ensure_group(session, "生命周期", category="lifecycle", kind="rule", exclusive=True)
    assert g1.id == g2.id and g1.name == "生命周期"
    t1 = service.ensure_tag(session, g1.id, "新客")
    t2 = service.ensure_tag(session, g1.id, "新客")
    assert t1.id == t2.id and t1.rule is None and t1.rule_version == 0
    with pytest.raises(Conflict) as err:
        service.ensure_group(session, "生命周期", category="lifecycle", kind="rule", exclusive=False)
    assert err.value.field == "exclusive"
    with pytest.raises(ValidationFailed) as bad:
        service.ensure_group(session, "x", category="nope", kind="static", exclusive=False)
    assert bad.value.field == "category"


def test_ensure_tag_rule_updates_bump_the_version(session: Session) -> None:
    group = service.ensure_group(session, "频次", category="behavior", kind="rule", exclusive=False)
    rule = {"type": "order", "metric": "count", "op": "gte", "value": 3, "window": {"last_days": 90}}
    tag = service.ensure_tag(session, group.id, "高频", rule=rule)
    assert tag.rule_version == 1
    assert service.ensure_tag(session, group.id, "高频", rule=rule).rule_version == 1
    changed = service.ensure_tag(session, group.id, "高频", rule={**rule, "value": 4})
    assert changed.rule_version == 2 and changed.rule is not None and changed.rule["value"] == 4
    static = service.ensure_group(session, "手工", category="custom", kind="static", exclusive=False)
    with pytest.raises(ValidationFailed) as err:
        service.ensure_tag(session, static.id, "x", rule=rule)
    assert err.value.field == "rule"


def test_apply_is_idempotent_and_writes_history_and_timeline(session: Session) -> None:
    a, b, c = make_customers(session, 3)
    group = service.ensure_group(session, "兴趣", category="interest", kind="static", exclusive=False)
    tag = service.ensure_tag(session, group.id, "护肤")
    delta = service.apply(session, tag.id, add=[a, b, b], actor="user:li", reason="campaign", at=AT)
    assert (delta.added, delta.removed) == ([a, b], [])
    again = service.apply(session, tag.id, add=[a, b], remove=[c], actor="user:li", reason=None, at=AT)
    assert (again.added, again.removed) == ([], [])
    assert members(session, tag.id) == [a, b]
    gone = service.apply(session, tag.id, remove=[a], actor="user:wang", reason="opted out", at=AT)
    assert gone.removed == [a]
    assert history(session, a) == [
        (tag.id, "added", "user:li", "campaign"),
        (tag.id, "removed", "user:wang", "opted out"),
    ]
    assert history(session, c) == []
    events = timeline(session, a)
    assert [n for n, _ in events] == ["Tag Added", "Tag Removed"]
    assert events[1][1] == {
        "tag_id": tag.id,
        "tag": "护肤",
        "group": "兴趣",
        "actor": "user:wang",
        "reason": "opted out",
    }
    # re-adding after a removal is a new change: a new history row and a new event
    service.apply(session, tag.id, add=[a], actor="user:li", reason=None, at=AT)
    assert [n for n, _ in timeline(session, a)] == ["Tag Added", "Tag Removed", "Tag Added"]


def test_exclusive_group_keeps_one_tag(session: Session) -> None:
    a, b = make_customers(session, 2)
    group = service.ensure_group(session, "生命周期", category="lifecycle", kind="rule", exclusive=True)
    new, old, dormant = (service.ensure_tag(session, group.id, n) for n in ("新客", "老客", "沉睡"))
    service.apply(session, new.id, add=[a, b], actor="rule:lifecycle", reason="first order", at=AT)
    delta = service.apply(session, old.id, add=[a], actor="rule:lifecycle", reason="repeat", at=AT)
    assert delta.added == [a] and delta.displaced == {new.id: [a]}
    assert (members(session, new.id), members(session, old.id)) == ([b], [a])
    service.apply(session, dormant.id, add=[a, b], actor="rule:lifecycle", reason="30 days", at=AT)
    assert members(session, dormant.id) == [a, b]
    assert members(session, new.id) == members(session, old.id) == []
    assert history(session, a) == [
        (new.id, "added", "rule:lifecycle", "first order"),
        (new.id, "removed", "rule:lifecycle", "replaced by 老客 (exclusive group 生命周期)"),
        (old.id, "added", "rule:lifecycle", "repeat"),
        (old.id, "removed", "rule:lifecycle", "replaced by 沉睡 (exclusive group 生命周期)"),
        (dormant.id, "added", "rule:lifecycle", "30 days"),
    ]
    names = [(n, p["tag"]) for n, p in timeline(session, a)]
    assert names == [
        ("Tag Added", "新客"),
        ("Tag Removed", "新客"),
        ("Tag Added", "老客"),
        ("Tag Removed", "老客"),
        ("Tag Added", "沉睡"),
    ]


def test_unknown_ids_and_contradictions_are_refused_before_writing(session: Session) -> None:
    (a,) = make_customers(session, 1)
    group = service.ensure_group(session, "g", category="custom", kind="static", exclusive=False)
    tag = service.ensure_tag(session, group.id, "t")
    with pytest.raises(NotFound) as err:
        service.apply(session, tag.id, add=[a, 10**12], actor="x", reason=None, at=AT)
    assert err.value.field == "add" and str(10**12) in err.value.message
    with pytest.raises(ValidationFailed) as both:
        service.apply(session, tag.id, add=[a], remove=[a], actor="x", reason=None, at=AT)
    assert both.value.field == "remove"
    with pytest.raises(NotFound):
        service.apply(session, 987654, add=[a], actor="x", reason=None, at=AT)
    assert members(session, tag.id) == []


def test_merged_ids_count_as_the_survivor(session: Session) -> None:
    survivor, merged = make_customers(session, 2)
    session.get(Customer, merged).merged_into_id = survivor  # type: ignore[union-attr]
    session.flush()
    group = service.ensure_group(session, "g", category="custom", kind="static", exclusive=False)
    tag = service.ensure_tag(session, group.id, "t")
    delta = service.apply(session, tag.id, add=[merged, survivor], actor="x", reason=None, at=AT)
    assert delta.added == [survivor]
    assert members(session, tag.id) == [survivor]


@pytest.mark.slow
def test_100k_customers_apply_set_based(session: Session) -> None:
    ids = make_customers(session, 100_000)
    group = service.ensure_group(session, "导入", category="source", kind="static", exclusive=True)
    first = service.ensure_tag(session, group.id, "抖音")
    second = service.ensure_tag(session, group.id, "小红书")
    service.apply(session, first.id, add=ids[:10_000], actor="import:a.csv", reason=None, at=AT)
    with counting(session) as statements:
        delta = service.apply(session, second.id, add=ids, actor="import:b.csv", reason=None, at=AT)
    assert len(delta.added) == 100_000 and delta.displaced == {first.id: ids[:10_000]}
    # a handful of statements per 1000 ids, never one per customer
    assert len(statements) <= 10 * (100_000 // service.CHUNK) + 20, len(statements)
    assert members(session, first.id) == []
    assert session.scalar(select(func.count()).select_from(CustomerTag)) == 100_000
    assert session.scalar(select(func.count()).select_from(TagChange)) == 120_000
    tag_events = select(func.count()).select_from(Event).where(Event.name.in_(["Tag Added", "Tag Removed"]))
    assert session.scalar(tag_events) == 120_000
    with counting(session) as again:
        assert service.apply(session, second.id, add=ids, actor="x", reason=None, at=AT).added == []
    assert len(again) <= 3 * (100_000 // service.CHUNK) + 10


def test_manual_changes_queue_the_customers_for_segment_evaluation(session: Session) -> None:
    from siyu.segments.tables import EvaluationDue

    a, b = make_customers(session, 2)
    session.query(EvaluationDue).delete()
    group = service.ensure_group(session, "兴趣", category="interest", kind="static", exclusive=False)
    tag_id = service.ensure_tag(session, group.id, "护肤").id
    service.apply(session, tag_id, add=[a, b], actor="user:li", reason=None, at=AT)
    assert sorted(session.scalars(select(EvaluationDue.customer_id))) == sorted([a, b])
