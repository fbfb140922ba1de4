"""Who serves the demo brand's customers: advisors (WeCom userids) in three departments, their supervisor,
and the live codes (活码) customers scan to add an advisor. Plain data and pure functions, no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from siyu.demo.seasons import Promotion

EAST, SOUTH, ONLINE = "华东", "华南", "线上"
DEPARTMENTS: tuple[str, ...] = (EAST, SOUTH, ONLINE)


@dataclass(frozen=True)
class Advisor:
    userid: str  # WeCom userid
    name: str
    department: str
    title: str = "顾问"


ADVISORS: tuple[Advisor, ...] = (
    Advisor("wangjing", "王静", EAST),
    Advisor("liting", "李婷", EAST),
    Advisor("chensiyu", "陈思雨", EAST),
    Advisor("zhouxiaomeng", "周晓梦", EAST),
    Advisor("huanglina", "黄丽娜", SOUTH),
    Advisor("linkexin", "林可馨", SOUTH),
    Advisor("zhengya", "郑雅", SOUTH),
    Advisor("zhangxinyue", "张欣悦", ONLINE),
    Advisor("liujialin", "刘佳琳", ONLINE),
    Advisor("yangshihan", "杨诗涵", ONLINE),
    Advisor("zhaozixuan", "赵梓萱", ONLINE),
    Advisor("wuruoxi", "吴若曦", ONLINE),
)
SUPERVISOR = Advisor("sunhuimin", "孙慧敏", ONLINE, "私域运营主管")
STAFF: tuple[Advisor, ...] = (*ADVISORS, SUPERVISOR)
BY_USERID = {a.userid: a for a in STAFF}
SLOTS = 12  # one draw of randrange(SLOTS) picks an advisor within the live code's department

# Stores by region (codes as in catalog.STORES): the counter's live code belongs to that region's team.
STORE_REGION = {"SH": EAST, "HZ": EAST, "GZ": SOUTH, "SZ": SOUTH}
# Douyin live rooms print a festival code during the big promotions, a standing one otherwise.
FESTIVAL_ROOM = {"38": "douyin-0308", "618": "douyin-0618", "1111": "douyin-1111", "1212": "douyin-1212"}
DOUYIN_LIVE = "douyin-live"


def douyin_code(promotion: Promotion | None) -> str:
    """The live-room code shown on the day: `douyin-0618` in the 618 promotion, else `douyin-live`."""
    return DOUYIN_LIVE if promotion is None else FESTIVAL_ROOM[promotion.festival.code]


def store_code(store: str) -> str:
    """`SH01` → `store-sh-01` (the counter's standing code)."""
    return f"store-{store[:2].lower()}-{store[2:]}"


def parcel_code(channel: str) -> str:
    """The card in the parcel of an order from `channel`: `parcel-tmall`, `parcel-douyin`, …"""
    return f"parcel-{channel}"


def department_of(code: str) -> str:
    if code.startswith("store-"):
        return STORE_REGION[code[6:8].upper()]
    return ONLINE


def team(department: str) -> tuple[Advisor, ...]:
    return tuple(a for a in ADVISORS if a.department == department)


def assign(rng: random.Random, code: str) -> str:
    """The advisor (userid) a customer who scanned `code` is routed to: the live code's team, in turn."""
    members = team(department_of(code))
    return members[rng.randrange(SLOTS) % len(members)].userid


def all_codes(stores: tuple[str, ...], channels: tuple[str, ...]) -> tuple[str, ...]:
    """Every live code the demo prints."""
    return (
        DOUYIN_LIVE,
        *FESTIVAL_ROOM.values(),
        *(store_code(s) for s in stores),
        *(parcel_code(c) for c in channels),
    )
