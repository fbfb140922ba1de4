"""`siyu bench segments` end to end at a tiny size on SQLite and PostgreSQL: the JSON it prints, and the
database it leaves checked against ingestion's own rules (`stats.rebuild`, order parsing) and against
segment membership computed directly in Python.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.bench.seg_events import ROLLUP_NAMES
from siyu.bench.seg_model import BrandSize, build
from siyu.core.database import dispose_engines, session_factory

SIYU = str(Path(sys.executable).parent / "siyu")
CUSTOMERS, EVENTS = 2_000, 20_000
KEYS = {
    "customers", "events", "segments", "rfm_s", "incremental_p50_ms", "incremental_p95_ms",
    "incremental_p99_ms", "preview_p95_ms", "peak_rss_mb", "duckdb_reference_s", "lifecycle_sweep_s",
    "load_s", "database", "host", "targets",
}  # fmt: skip


def _bench(*extra: str) -> dict[str, Any]:
    args = [SIYU, "bench", "segments", "--customers", str(CUSTOMERS), "--events", str(EVENTS)]
    args += ["--samples", "10", "--previews", "1", "--json", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = orjson.loads(done.stdout)
    return figures


def _check_figures(figures: dict[str, Any], database: str) -> None:
    shown = {k: v for k, v in figures.items() if k not in ("load", "host_before")}
    assert set(figures) >= KEYS, shown
    assert figures["database"] == database
    assert (figures["customers"], figures["events"]) == (CUSTOMERS, EVENTS)
    assert figures["load"]["rows"]["events"] == EVENTS
    assert len(figures["segments"]) == 10
    assert {s["name"] for s in figures["segments"]} >= {"沉睡客户", "华东顾问名下"}
    for segment in figures["segments"]:
        assert segment["full_rebuild_s"] > 0 and segment["members"] >= 0
    assert sum(1 for s in figures["segments"] if s["members"] > 0) >= 8, shown
    assert figures["rfm_customers"] > 0 and figures["rfm_s"] > 0 and figures["duckdb_reference_s"] > 0
    assert figures["duckdb"]["buyers"] == figures["rfm_customers"]  # the same buyers on both sides
    assert figures["incremental"]["timeouts"] == 0 and figures["incremental"]["samples"] == 10, shown
    assert (
        0 < figures["incremental_p50_ms"] <= figures["incremental_p95_ms"] <= figures["incremental_p99_ms"]
    ), shown
    assert figures["preview_p95_ms"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["host"]["cpus"] and figures["host"]["siyu"]


def _members(session: Session, name: str) -> set[int]:
    from siyu.segments.tables import Segment, SegmentMember

    segment_id = session.scalar(select(Segment.id).where(Segment.name == f"bench · {name}"))
    return set(
        session.scalars(select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment_id))
    )


def _traits(session: Session, name: str) -> dict[int, Any]:
    from siyu.customers.tables import Trait

    query = select(Trait.customer_id, Trait.value).where(Trait.name == name)
    return {int(c): v for c, v in session.execute(query)}


def _check_segments_against_python(session: Session) -> None:
    from siyu.consent.tables import Consent
    from siyu.staff.tables import CustomerOwner, Staff

    city, level = _traits(session, "city"), _traits(session, "member_level")
    gold = {c for c, v in city.items() if v in ("上海", "北京") and level.get(c) == "金卡"}
    assert _members(session, "上海/北京 金卡会员") == gold and gold
    codes = {"douyin_live", "douyin-0618", "douyin-1111"}
    came = {c for c, v in _traits(session, "live_code").items() if v in codes}
    granted = {c.customer_id for c in session.scalars(select(Consent)) if (c.channel, c.purpose, c.status)
               == ("wecom", "marketing", "granted")}  # fmt: skip
    assert _members(session, "企微可营销 · 抖音直播活码") == came & granted and came & granted
    east = {s.id for s in session.scalars(select(Staff)) if s.department == "华东"}
    owned = {o.customer_id for o in session.scalars(select(CustomerOwner)) if o.staff_id in east}
    assert _members(session, "华东顾问名下") == owned and owned


def _check_state_against_ingestion_rules(session: Session) -> None:
    """Stats and rollups equal what `stats.rebuild` recomputes from the events and orders; orders equal
    what ingestion parses from their `Order Completed` events."""
    from siyu.commerce import ecommerce
    from siyu.commerce.tables import Order
    from siyu.customers import stats
    from siyu.customers.tables import CustomerStats, DailyEventCount
    from siyu.events.tables import Event

    def snapshot(cid: int) -> tuple[Any, ...]:
        row = session.get(CustomerStats, cid, populate_existing=True)
        assert row is not None
        days = select(DailyEventCount.day, DailyEventCount.event, DailyEventCount.count)
        rollups = sorted(tuple(r) for r in session.execute(days.where(DailyEventCount.customer_id == cid)))
        times = (row.first_seen_at, row.last_seen_at, row.first_order_at, row.last_order_at)
        figures = (row.events_count, row.orders_count, row.total_spent_minor, row.refunded_minor)
        return (*times, *figures, rollups)

    for cid in random.Random(3).sample(range(1, CUSTOMERS + 1), 60):
        before = snapshot(cid)
        stats.rebuild(session, cid)
        session.flush()
        assert snapshot(cid) == before, cid
    session.rollback()
    for order in session.scalars(select(Order).order_by(Order.id).limit(80)):
        query = select(Event.properties).where(
            Event.name == "Order Completed", Event.customer_id == order.customer_id
        )
        props = next(p for p in session.scalars(query) if p["order_id"] == order.external_id)
        action = ecommerce.parse("Order Completed", props, "CNY")
        assert action is not None
        assert (action.amounts["total"], action.amounts["subtotal"]) == (
            order.total_minor,
            order.subtotal_minor,
        )
        assert action.amounts["discount"] == order.discount_minor


def _check_database(url: str) -> None:
    try:
        with session_factory(url)() as session:
            _check_segments_against_python(session)
            _check_state_against_ingestion_rules(session)
    finally:
        dispose_engines()


def test_model_hits_the_event_count_and_its_stats_follow_its_events() -> None:
    brand = build(BrandSize(500, 5_000, seed=3), datetime(2026, 11, 1, 4, tzinfo=UTC), "Asia/Shanghai")
    e, s = brand.events, brand.stats
    assert len(e) == 5_000 and np.all(np.diff(e.at) >= 0)
    assert np.all(e.at < int(brand.now.timestamp() * 1e6))
    for i in random.Random(1).sample(range(500), 50):
        mine = e.at[e.customer == i]
        assert (s.events_count[i], s.first_seen[i], s.last_seen[i]) == (len(mine), mine.min(), mine.max())
    assert brand.rollups.count.sum() == 5_000
    assert set(np.unique(brand.rollups.kind).tolist()) <= set(range(len(ROLLUP_NAMES)))
    o = brand.orders
    assert np.all(o.total == o.subtotal - o.discount + o.shipping) and np.all(np.diff(o.at) >= 0)


@pytest.mark.slow
def test_bench_segments_on_sqlite(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "segments.db")  # migrated already: the bench loads into it
    figures = _bench("--keep", str(tmp_path))
    _check_figures(figures, "sqlite")
    assert figures["kept"] == str(tmp_path.resolve() / "segments.db")
    _check_database(f"sqlite:///{figures['kept']}")


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_segments_on_postgres(pg_server: Any) -> None:
    url = pg_server.create_database(f"bench_{uuid.uuid4().hex[:8]}", template="siyu_template")
    _check_figures(_bench("--database-url", url), "postgresql")
    _check_database(url)
