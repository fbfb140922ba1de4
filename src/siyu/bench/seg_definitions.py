"""The ten representative segments `siyu bench segments` rebuilds and previews, written in the segment
condition language, and their creation (idempotent by name) through `segments.service`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.bench.seg_rows import BENCH_TAG_GROUP
from siyu.tags.tables import Tag, TagGroup

PREFIX = "bench · "
ESSENCE_VIEWS = "精华浏览 ≥3 次/7 天"
LOYAL_FAN = "直播间老粉"


@dataclass(frozen=True)
class BenchSegment:
    name: str
    what: str  # in English, for the docs table
    root: dict[str, Any]


def _views() -> dict[str, Any]:
    return {
        "type": "event_count",
        "event": "Product Viewed",
        "where": [{"property": "category", "op": "eq", "value": "精华"}],
        "window": {"last_days": 7},
        "op": "gte",
        "value": 3,
    }


def definitions(tag_id: int, dormant_segment_id: int | None) -> list[BenchSegment]:
    """The ten segments; the sixth refers to the fourth (`dormant_segment_id`, once it exists)."""
    other = {"type": "segment", "segment_id": dormant_segment_id or 1, "member": False}
    return [
        BenchSegment(
            ESSENCE_VIEWS, "Product Viewed where category = 精华, ≥ 3 times in the last 7 days", _views()
        ),
        BenchSegment(
            "近 90 天有单 · 累计消费 ≥ ¥1000",
            "spend ≥ ¥1000 and last order within 90 days",
            {
                "type": "and",
                "children": [
                    {"type": "order", "metric": "spend", "op": "gte", "value": 1000},
                    {"type": "order", "metric": "last_order_at", "op": "within_last_days", "value": 90},
                ],
            },
        ),
        BenchSegment(
            "RFM 重要客户",
            "RFM tier in important_* (4 tiers)",
            {
                "type": "rfm",
                "tiers": ["important_value", "important_develop", "important_retain", "important_win_back"],
            },
        ),
        BenchSegment("沉睡客户", "lifecycle stage dormant", {"type": "lifecycle", "stages": ["dormant"]}),
        BenchSegment(
            "7 天内生日",
            "birthday (trait) within the next 7 days",
            {"type": "trait", "name": "birthday", "op": "anniversary_within_days", "value": 7},
        ),
        BenchSegment(
            "直播间老粉 · 非沉睡",
            f"has tag {LOYAL_FAN} and not in segment 沉睡客户",
            {"type": "and", "children": [{"type": "tag", "tag_id": tag_id, "has": True}, other]},
        ),
        BenchSegment(
            "上海/北京 金卡会员",
            "city in [上海, 北京] and member_level = 金卡",
            {
                "type": "and",
                "children": [
                    {"type": "trait", "name": "city", "op": "in", "value": ["上海", "北京"]},
                    {"type": "trait", "name": "member_level", "op": "eq", "value": "金卡"},
                ],
            },
        ),
        BenchSegment(
            "买过面霜 · 60 天未下单",
            "bought category 面霜 in the last 180 days and no order in the last 60 days",
            {
                "type": "and",
                "children": [
                    {"type": "bought", "category": "面霜", "window": {"last_days": 180}},
                    {"type": "order", "metric": "last_order_at", "op": "before_days_ago", "value": 60},
                ],
            },
        ),
        BenchSegment("华东顾问名下", "owner's department = 华东", {"type": "owner", "departments": ["华东"]}),
        BenchSegment(
            "企微可营销 · 抖音直播活码",
            "WeCom marketing consent granted and live code in [douyin_live, douyin-0618, douyin-1111]",
            {
                "type": "and",
                "children": [
                    {"type": "consent", "channel": "wecom", "purpose": "marketing", "status": "granted"},
                    {"type": "live_code", "codes": ["douyin_live", "douyin-0618", "douyin-1111"]},
                ],
            },
        ),
    ]


def bench_tag_id(session: Session) -> int:
    """Id of the static tag the loader gave about 10% of customers."""
    query = select(Tag.id).join(TagGroup, TagGroup.id == Tag.group_id)
    found = session.scalar(query.where(TagGroup.name == BENCH_TAG_GROUP, Tag.name == LOYAL_FAN))
    if found is None:
        raise RuntimeError(f"tag {BENCH_TAG_GROUP}/{LOYAL_FAN} is missing: not a bench database")
    return int(found)


def ensure_segments(session: Session, now: datetime) -> list[tuple[BenchSegment, int]]:
    """Create the ten segments unbuilt (or find them by name); returns (segment, id) in order."""
    from siyu.segments import service
    from siyu.segments.schemas import SegmentCreate
    from siyu.segments.tables import Segment

    tag_id = bench_tag_id(session)
    out: list[tuple[BenchSegment, int]] = []
    dormant: int | None = None
    for index in range(10):
        spec = definitions(tag_id, dormant)[index]
        name = PREFIX + spec.name
        found = session.scalar(select(Segment.id).where(Segment.name == name))
        if found is None:
            body = SegmentCreate(
                name=name, description=spec.what, definition={"version": 1, "root": spec.root}
            )
            found = service.create(session, body, actor="bench", now=now, build=False).id
        out.append((spec, int(found)))
        if index == 3:
            dormant = int(found)
    return out
