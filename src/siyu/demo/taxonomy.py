"""The demo's tag taxonomy through the tag service: interests advisors note by hand, where customers came
from and how they buy (rule tags, built by the segment engine), and the markers the journeys set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.core.pii import Vault
from siyu.demo import catalog, team
from siyu.demo.crm import customer_ids
from siyu.demo.relations import INTERESTS, Interest
from siyu.segments import service as segments
from siyu.tags import service as tags


@dataclass(frozen=True)
class Group:
    name: str
    category: str
    kind: str
    description: str
    tags: dict[str, dict[str, Any] | None]  # tag name → rule (rule groups) or None


def _codes(prefix: str) -> list[str]:
    stores = tuple(code for code, _city in catalog.STORES)
    channels = ("douyin", "tmall", "miniprogram")
    return [c for c in team.all_codes(stores, channels) if c.startswith(prefix)]


def _live_code(prefix: str) -> dict[str, Any]:
    return {"type": "live_code", "codes": _codes(prefix)}


def _added_to_cart(days: int) -> dict[str, Any]:
    return {"type": "event_count", "event": "Product Added", "window": {"last_days": days}}


INTEREST_GROUP = "兴趣偏好"
JOURNEY_GROUP = "旅程标记"
WELCOMED, WOKEN = "已发欢迎语", "已唤醒"
GROUPS: tuple[Group, ...] = (
    Group(
        INTEREST_GROUP, "interest", "static", "顾问在企业微信聊天中记录的护肤需求", dict.fromkeys(INTERESTS)
    ),
    Group(
        "活码来源",
        "source",
        "rule",
        "扫哪一类渠道活码添加的顾问（客户属性 live_code）",
        {
            "抖音导流": _live_code("douyin-"),
            "门店导流": _live_code("store-"),
            "包裹卡导流": _live_code("parcel-"),
        },
    ),
    Group(
        "消费行为",
        "behavior",
        "rule",
        "按订单和浏览行为自动计算",
        {
            "高频": {
                "type": "order",
                "metric": "count",
                "op": "gte",
                "value": 3,
                "window": {"last_days": 90},
            },
            "大促囤货": {
                "type": "event_count",
                "event": "Order Completed",
                "where": [{"property": "promotion", "op": "exists"}],
                "op": "gte",
                "value": 2,
            },
            "加购未买": {
                "type": "and",
                "children": [
                    _added_to_cart(14),
                    {
                        "type": "not",
                        "child": {
                            "type": "order",
                            "metric": "last_order_at",
                            "op": "within_last_days",
                            "value": 14,
                        },
                    },
                ],
            },
        },
    ),
    Group(JOURNEY_GROUP, "custom", "static", "自动化旅程打上的标记", dict.fromkeys((WELCOMED, WOKEN))),
)


def ensure(session: Session) -> dict[str, int]:
    """Every group and tag of the taxonomy (created or updated); tag name → id."""
    ids: dict[str, int] = {}
    for g in GROUPS:
        group = tags.ensure_group(
            session, g.name, category=g.category, kind=g.kind, exclusive=False, description=g.description
        )
        for name, rule in g.tags.items():
            ids[name] = tags.ensure_tag(session, group.id, name, rule=rule).id
    return ids


def rule_tag_ids(ids: dict[str, int]) -> list[int]:
    return [ids[name] for g in GROUPS if g.kind == "rule" for name in g.tags]


def build_rules(session: Session, ids: dict[str, int], now: datetime) -> int:
    """Evaluate every rule tag for everyone (the segment engine's full rebuild); holders changed."""
    changed = 0
    for tag_id in rule_tag_ids(ids):
        added, removed = segments.rebuild_tag(session, tag_id, now, reason="demo build")
        changed += added + removed
    return changed


def apply_interests(
    session: Session, vault: Vault, ids: dict[str, int], interests: list[Interest], now: datetime
) -> int:
    """Each advisor's noted interests, one list per (tag, advisor); returns the tags added."""
    found = customer_ids(session, vault, [i.identity for i in interests])
    lists: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i in interests:
        if i.identity in found:
            lists[(i.tag, i.advisor)].add(found[i.identity])
    added = 0
    for (tag, advisor), customers in sorted(lists.items()):
        delta = tags.apply(
            session,
            ids[tag],
            add=sorted(customers),
            actor=f"staff:{advisor}",
            reason="顾问聊天记录",
            at=now,
        )
        added += len(delta.added)
    return added
