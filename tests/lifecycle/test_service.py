"""Lifecycle stages over time on SQLite and PostgreSQL: event-driven refresh, the boundary sweep, timeline
events with reasons, the exclusive `生命周期` tags, consumption cycles and merged customers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.settings import get_settings
from siyu.customers import merges
from siyu.events.tables import Event
from siyu.lifecycle import boundaries, service
from siyu.lifecycle.tables import LifecycleState
from siyu.tags.tables import CustomerTag, Tag, TagGroup
from tests.conftest import FrozenClock
from tests.rfm.shop import NOW, cid, feed, order, visit


def stage_changes(session: Session, customer: int) -> list[tuple[Any, ...]]:
    rows = session.scalars(
        select(Event)
        .where(Event.customer_id == customer, Event.name == service.EVENT)
        .order_by(Event.timestamp)
    )
    return [(e.properties["from"], e.properties["to"], e.timestamp, e.properties["reason"]) for e in rows]


def stage_tag(session: Session, customer: int) -> list[str]:
    query = (
        select(Tag.name)
        .join(CustomerTag, CustomerTag.tag_id == Tag.id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(TagGroup.name == service.TAG_GROUP, CustomerTag.customer_id == customer)
    )
    return list(session.scalars(query))


def state(session: Session, customer: int) -> tuple[str, datetime, str | None] | None:
    row = session.get(LifecycleState, customer, populate_existing=True)
    return None if row is None else (row.stage, row.since, row.previous_stage)


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def test_a_customer_through_every_stage_with_timeline_and_tags(
    session: Session, frozen_clock: FrozenClock
) -> None:
    def at(n: float) -> datetime:
        frozen_clock.current = days(n)
        return days(n)

    feed(session, visit("life", at(0)), at=at(0))
    c = cid(session, "life")
    assert [t.to_stage for t in service.refresh(session, [c], at(0))] == ["prospect"]
    assert service.sweep(session, at(0)) == 0  # first sweep: everyone has a stage already
    feed(session, order("life", "L1", 99, at(1)), at=at(1))
    assert [(t.from_stage, t.to_stage) for t in service.refresh(session, [c], at(1))] == [("prospect", "new")]
    assert service.refresh(session, [c], at(1)) == []  # nothing new: nothing written
    feed(session, order("life", "L2", 199, at(10)), at=at(10))
    service.refresh(session, [c], at(10))
    assert state(session, c) == ("returning", days(10), "new")
    assert stage_tag(session, c) == ["老客"]

    assert service.sweep(session, at(39)) == 0
    assert service.sweep(session, at(41)) == 1  # 30 days after the last activity (day 10)
    assert state(session, c) == ("dormant", days(40), "returning")
    assert service.sweep(session, at(100)) == 0
    assert service.sweep(session, at(191)) == 1
    assert state(session, c) == ("churned", days(190), "dormant")
    feed(session, visit("life", at(200)), at=at(200))
    service.refresh(session, [c], at(200))
    assert state(session, c) == ("reactivated", days(200), "churned")
    feed(session, visit("life", at(225)), at=at(225))
    assert service.refresh(session, [c], at(225)) == []  # still back within 30 days
    assert service.sweep(session, at(229)) == 0
    assert service.sweep(session, at(235)) == 1
    assert state(session, c) == ("returning", days(230), "reactivated")
    session.commit()

    assert [(f, t, when) for f, t, when, _ in stage_changes(session, c)] == [
        (None, "prospect", days(0)),
        ("prospect", "new", days(1)),
        ("new", "returning", days(10)),
        ("returning", "dormant", days(40)),
        ("dormant", "churned", days(190)),
        ("churned", "reactivated", days(200)),
        ("reactivated", "returning", days(230)),
    ]
    reasons = [r for *_, r in stage_changes(session, c)]
    assert reasons[3] == "no interaction or purchase for 30 days"
    assert reasons[5] == "interacted again after being churned"
    assert stage_tag(session, c) == ["老客"]  # exclusive: one stage tag at a time
    # the same transition recorded again (a worker and the sweep racing) is stored once
    service._write(session, [service.Transition(c, "churned", "reactivated", days(200), "again")], at(235))
    assert len(stage_changes(session, c)) == 7


def test_sweep_only_looks_at_customers_across_a_boundary(session: Session, frozen_clock: FrozenClock) -> None:
    feed(
        session,
        order("due", "d1", 10, days(-31)),  # dormant between the two sweeps
        order("idle", "i1", 10, days(-100)), visit("idle", days(-100)),  # dormant long ago: nothing to do
        visit("fresh", days(-5)), order("fresh", "f1", 10, days(-5)),
        order("newbie", "n1", 10, days(-30.5)), visit("newbie", days(-1)),  # new → returning now
        at=days(0),
    )  # fmt: skip
    ids = {u: cid(session, u) for u in ("due", "idle", "fresh", "newbie")}
    frozen_clock.current = days(-2)
    service.sweep(session, days(-2))  # first sweep: everybody
    assert {u: state(session, i)[0] for u, i in ids.items()} == {  # type: ignore[index]
        "due": "new", "idle": "dormant", "fresh": "new", "newbie": "new",
    }  # fmt: skip
    due = boundaries.crossed(session, get_settings(), days(-2), days(0))
    assert due == {ids["due"], ids["newbie"]}
    frozen_clock.current = days(0)
    assert service.sweep(session, days(0)) == 2
    assert state(session, ids["due"])[:2] == ("dormant", days(-1))  # type: ignore[index]
    assert state(session, ids["newbie"])[:2] == ("returning", days(-0.5))  # type: ignore[index]
    assert state(session, ids["fresh"])[0] == "new"  # type: ignore[index]


def test_consumption_cycle_postpones_dormancy(
    session: Session, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_LIFECYCLE_CATEGORY_CYCLES", '{"精华": 60}')
    get_settings.cache_clear()
    feed(
        session,
        order("serum", "s1", 300, days(0), category="精华"),
        order("mask", "m1", 30, days(0), category="面膜"),
    )
    serum, mask = cid(session, "serum"), cid(session, "mask")
    service.sweep(session, days(0))
    assert boundaries.inactivity_limits(get_settings()) == {30, 90, 180}
    frozen_clock.current = days(31)
    assert service.sweep(session, days(31)) == 2  # mask: dormant; serum: past the new window, active
    assert state(session, mask)[0] == "dormant"  # type: ignore[index]
    assert state(session, serum)[0] == "returning"  # type: ignore[index]
    frozen_clock.current = days(91)
    service.sweep(session, days(91))
    assert state(session, serum)[:2] == ("dormant", days(90))  # type: ignore[index]
    assert (
        stage_changes(session, serum)[-1][3]
        == "no interaction or purchase for 90 days (consumption cycle 60 days)"
    )


def test_merged_away_customers_lose_their_stage(session: Session, frozen_clock: FrozenClock) -> None:
    feed(session, order("a", "a1", 10, days(0)), visit("b", days(0)))
    a, b = cid(session, "a"), cid(session, "b")
    service.refresh(session, [a, b], days(0))
    merges.merge(session, a, b, reason="same person", actor="test")
    assert service.refresh(session, [a, b], days(0)) == []
    assert state(session, b) is None and state(session, a)[0] == "new"  # type: ignore[index]


def test_summary_counts_stages(session: Session, frozen_clock: FrozenClock) -> None:
    feed(session, order("a", "a1", 10, days(0)), visit("b", days(0)))
    service.sweep(session, days(0))
    shown = service.summary(session)
    counts = {s["stage"]: (s["label"], s["customers"]) for s in shown["stages"]}
    assert (
        counts["new"] == ("新客", 1)
        and counts["prospect"] == ("潜客", 1)
        and counts["churned"] == ("流失", 0)
    )
    assert shown["customers"] == 2 and shown["last_sweep_at"] == days(0)
    assert shown["rules"]["dormant_days"] == 30
