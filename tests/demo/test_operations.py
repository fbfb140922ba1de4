"""The operated demo on SQLite and PostgreSQL: after loading and operating a small brand, segments have
members, buyers have RFM scores, everyone has a lifecycle stage, the journeys are active, tags and owners
are in place; operating again changes nothing, and a second database loaded from the same seed ends with
the same figures.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.analytics.tables import AcquisitionSpend, DailyMetric
from siyu.core.database import dispose_engines, session_factory, unit_of_work
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer, CustomerStats
from siyu.demo import audiences, automation, loader, operations, overview, taxonomy, team
from siyu.demo.generator import customers, history_days, stream_of
from siyu.journeys import service as journeys
from siyu.journeys.playbooks import PLAYBOOKS
from siyu.journeys.tables import Journey
from siyu.lifecycle.tables import LifecycleState
from siyu.messaging.tables import MessageTemplate
from siyu.rfm.tables import RfmScore
from siyu.staff.tables import CustomerOwner
from siyu.tags.tables import CustomerTag, Tag
from tests.conftest import FrozenClock
from tests.demo.conftest import ANCHOR

SEED, COUNT = 3, 220
NOW = ANCHOR + timedelta(hours=10)  # later on the day of the first load


def _load_and_operate(metrics_days: int = 1) -> tuple[overview.Overview, operations.OperationsReport]:
    with unit_of_work() as s:
        sources = loader.ensure_sources(s)
    population = list(customers(COUNT, SEED, ANCHOR))
    report = loader.load(stream_of(population), sources.ids)
    assert report.errors == []
    first, last = history_days(ANCHOR)
    history = operations.History(population, SEED, first, last, ANCHOR)
    ops = operations.run(history, NOW, metrics_days=metrics_days)
    with session_factory()() as s:
        return overview.overview(s), ops


def _count(query: Any) -> int:
    with session_factory()() as s:
        return int(s.scalar(query) or 0)


def _fresh_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the settings at a second, empty (migrated) database of the same kind as `db_url`'s."""
    dispose_engines()
    if get_settings().is_sqlite:
        path = tmp_path / "second.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database(f"t_{uuid.uuid4().hex[:12]}", template="siyu_template")
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    get_settings.cache_clear()


def _check_operated(figures: overview.Overview, ops: operations.OperationsReport) -> None:
    members = dict(figures.segments)
    assert list(members) == [a.name for a in audiences.AUDIENCES]
    for name in ("高价值沉睡", "企微好友未购", "精华爱好者"):
        assert members[name] > 0, (name, members)
    live = select(Customer.id).where(Customer.merged_into_id.is_(None))
    assert _count(select(func.count()).select_from(LifecycleState)) == _count(
        select(func.count()).select_from(live.subquery())
    )
    assert sum(n for _stage, n in figures.lifecycle) == _count(
        select(func.count()).select_from(live.subquery())
    )
    scored = select(RfmScore.customer_id)
    stats = CustomerStats.customer_id
    recent = select(stats).where(
        CustomerStats.orders_count > 0, CustomerStats.last_order_at >= NOW - timedelta(days=300)
    )
    never_bought = select(stats).where(CustomerStats.orders_count == 0)
    assert _count(select(func.count()).select_from(recent.subquery())) > 20
    assert _count(select(func.count()).where(stats.in_(recent), ~stats.in_(scored))) == 0
    assert _count(select(func.count()).where(RfmScore.customer_id.in_(never_bought))) == 0
    assert sum(n for _tier, n in figures.rfm) == _count(select(func.count()).select_from(RfmScore))
    assert len(figures.journeys) == len(automation.PLAYBOOKS)
    for (name, status), key in zip(figures.journeys, automation.PLAYBOOKS, strict=True):
        assert name.startswith(PLAYBOOKS[key].name_zh) and status == "active"
    assert dict(figures.staff) == {d: len(team.team(d)) + (d == team.ONLINE) for d in team.DEPARTMENTS}
    assert figures.owned == _count(select(func.count()).select_from(CustomerOwner)) > 10
    consents = dict(figures.consents)
    assert consents["wecom granted"] > consents.get("wecom unsubscribed", 0) > 0
    assert consents["sms granted"] > 0
    for name in ("抖音导流", "门店导流", "包裹卡导流", *taxonomy.GROUPS[0].tags):
        tag_id = select(Tag.id).where(Tag.name == name).scalar_subquery()
        assert _count(select(func.count()).where(CustomerTag.tag_id == tag_id)) > 0, name
    assert _count(select(func.count()).select_from(MessageTemplate)) == len(automation.TEMPLATES)
    assert _count(select(func.count()).select_from(AcquisitionSpend)) > 5
    assert figures.metric_rows == _count(select(func.count()).select_from(DailyMetric)) > 0
    if operations.predictions_available():
        assert ops.problems == [] and figures.predictions is not None
    else:
        assert figures.predictions is None and "skipped" in ops.problems[0]


def test_the_demo_is_operated_idempotently_and_reproducibly(
    db_url: str,
    frozen_clock: FrozenClock,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    frozen_clock.current = NOW
    figures, ops = _load_and_operate()
    _check_operated(figures, ops)
    with session_factory()() as s:
        for journey in s.scalars(select(Journey)):
            assert journey.current_version == 2 and journey.status == "active"
            sends = [n for n in journeys.definition_of(s, journey).nodes if n.type == "send"]
            assert {n.channel for n in sends} == {"memory"}

    again, _ops = _load_and_operate(metrics_days=0)  # a re-run: nothing new, the same figures
    assert again == figures
    assert _count(select(func.count()).select_from(Journey)) == len(automation.PLAYBOOKS)

    _fresh_database(request, monkeypatch, tmp_path)  # the same seed elsewhere: the same brand
    elsewhere, _ops = _load_and_operate()
    assert elsewhere == figures


def test_templates_name_only_traits_the_brand_has(db_url: str, frozen_clock: FrozenClock) -> None:
    """On an empty database the trait placeholders are written in as words (a template may only use
    traits customers have); once customers have them, a re-run saves the personalised version."""
    with unit_of_work() as s:
        assert automation.ensure_templates(s, NOW) == len(automation.TEMPLATES)
        assert automation.ensure_templates(s, NOW) == 0
        guide = s.get(MessageTemplate, "style_guide")
        assert guide is not None and "customer.traits" not in guide.body and "日常肤质" in guide.body
    with unit_of_work() as s:
        sources = loader.ensure_sources(s)
    loader.load(stream_of(customers(20, SEED, ANCHOR)), sources.ids)
    with unit_of_work() as s:
        assert automation.ensure_templates(s, NOW) == 2  # the two that name traits
        guide = s.get(MessageTemplate, "style_guide")
        assert guide is not None and guide.version == 2 and automation.SKIN in guide.body
