"""The demo's eight dynamic segments, as a skincare brand's operator would set them up (serum lovers,
valuable customers gone quiet, birthdays this week, …); created, or rebuilt, through the segment service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.demo import team
from siyu.segments import service as segments
from siyu.segments.schemas import SegmentCreate
from siyu.segments.tables import Segment

Condition = dict[str, Any]
VALUABLE = ["important_value", "important_develop", "important_retain", "important_win_back"]


@dataclass(frozen=True)
class Audience:
    key: str  # what the journeys refer to
    name: str
    description: str
    root: Callable[[dict[str, int]], Condition]  # tag name → id, to the condition tree


def _views(days: int, value: int, category: str | None = None) -> Condition:
    where = [{"property": "category", "op": "eq", "value": category}] if category else []
    return {"type": "event_count", "event": "Product Viewed", "where": where, "window": {"last_days": days},
            "op": "gte", "value": value}  # fmt: skip


def _and(*children: Condition) -> Condition:
    return {"type": "and", "children": list(children)}


SERUM_LOVERS = Audience(
    "serum_lovers", "精华爱好者", "近 30 天浏览精华 3 次以上，或近 90 天买过精华且又来看过精华",
    lambda _t: {"type": "or", "children": [
        _views(30, 3, "精华"),
        _and({"type": "bought", "category": "精华", "window": {"last_days": 90}}, _views(30, 1, "精华")),
    ]},
)  # fmt: skip
VALUABLE_DORMANT = Audience(
    "valuable_dormant", "高价值沉睡", "RFM 重要客户，生命周期为沉睡（唤醒旅程的入口）",
    lambda _t: _and({"type": "rfm", "tiers": VALUABLE}, {"type": "lifecycle", "stages": ["dormant"]}),
)  # fmt: skip
BIRTHDAY_WEEK = Audience(
    "birthday_week", "生日本周", "生日在今天起 7 天内",
    lambda _t: {"type": "trait", "name": "birthday", "op": "anniversary_within_days", "value": 7},
)  # fmt: skip
SERUM_REPLENISH = Audience(
    "serum_replenish", "精华复购提醒", "近 120 天买过精华，且 60 天没有下单：一瓶快用完了",
    lambda _t: _and(
        {"type": "bought", "category": "精华", "window": {"last_days": 120}},
        {"type": "order", "metric": "last_order_at", "op": "before_days_ago", "value": 60},
    ),
)  # fmt: skip
BROWSERS = Audience(
    "browsers", "近 7 天浏览 3 次", "近 7 天浏览商品 3 次以上（浏览送券旅程的入口）",
    lambda _t: _views(7, 3),
)  # fmt: skip
DOUYIN_NEW = Audience(
    "douyin_new", "抖音直播新粉", "标签“抖音导流”，近 30 天刚加顾问",
    lambda t: _and(
        {"type": "tag", "tag_id": t["抖音导流"]},
        {"type": "event_count", "event": "Contact Added", "window": {"last_days": 30}},
    ),
)  # fmt: skip
EAST_GOLD = Audience(
    "east_gold", "华东金卡以上会员", "归属华东顾问，会员等级金卡或黑金卡",
    lambda _t: _and(
        {"type": "owner", "departments": [team.EAST]},
        {"type": "trait", "name": "member_level", "op": "in", "value": ["金卡", "黑金卡"]},
    ),
)  # fmt: skip
FRIENDS_NO_ORDER = Audience(
    "friends_no_order", "企微好友未购", "加了顾问、同意企业微信营销，但从未下单",
    lambda _t: _and(
        {"type": "owner", "has_owner": True},
        {"type": "consent", "channel": "wecom"},
        {"type": "order", "metric": "count", "op": "eq", "value": 0},
    ),
)  # fmt: skip
AUDIENCES: tuple[Audience, ...] = (
    SERUM_LOVERS, VALUABLE_DORMANT, BIRTHDAY_WEEK, SERUM_REPLENISH, BROWSERS, DOUYIN_NEW, EAST_GOLD,
    FRIENDS_NO_ORDER,
)  # fmt: skip
ACTOR = "demo"


def ensure(session: Session, tag_ids: dict[str, int], now: datetime) -> dict[str, int]:
    """Create the segments that are missing (built at once) and rebuild the others; key → segment id."""
    out: dict[str, int] = {}
    for audience in AUDIENCES:
        definition = {"version": 1, "root": audience.root(tag_ids)}
        existing = session.scalar(select(Segment).where(Segment.name == audience.name))
        if existing is None:
            body = SegmentCreate(name=audience.name, description=audience.description, definition=definition)
            existing = segments.create(session, body, actor=ACTOR, now=now)
        elif existing.archived_at is None and existing.kind == "dynamic":
            segments.rebuild(session, existing.id, now, reason="demo rebuild")
        out[audience.key] = existing.id
    return out
