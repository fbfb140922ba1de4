"""Orders of the bench brand as NumPy arrays: first baskets by channel, replenishment and festival orders
over each buyer's active span, order lines from the demo catalogue, discounts, shipping and refunds, and
the member level each member's spend earns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siyu.bench.seg_calendar import DAY_US, HOUR_US, US, BrandCalendar
from siyu.bench.seg_people import CHANNELS, DOUYIN, MINIPROGRAM, PERSONAS, STORE, TMALL, People
from siyu.demo import catalog

Ints = NDArray[Any]
ALL_CATEGORIES = (*catalog.CATEGORIES, "体验装")
PRODUCT_CATEGORY = np.array([ALL_CATEGORIES.index(p.category) for p in catalog.PRODUCTS])
PRICE_FEN = np.array([int(p.price * 100) for p in catalog.PRODUCTS], dtype=np.int64)
LEVEL_FEN = np.array(sorted(int(t * 100) for t, _ in catalog.MEMBER_LEVELS), dtype=np.int64)
LEVELS = tuple(name for _, name in sorted(catalog.MEMBER_LEVELS))  # 普卡, 银卡, 金卡, 黑金卡
SUNSCREEN, MASK = ALL_CATEGORIES.index("防晒"), ALL_CATEGORIES.index("面膜")
REFUND_RATE = 0.03
COMPLETED, PARTIALLY_REFUNDED, REFUNDED = 0, 1, 2
STATUSES = ("completed", "partially_refunded", "refunded")


@dataclass
class Orders:
    """Order `k`, in time order; its lines are `line_*[line_start[k] : line_start[k] + line_count[k]]`."""

    customer: Ints
    at: Ints  # µs
    channel: Ints
    number: Ints  # 0 for a customer's first order
    festival: Ints  # index into seasons.FESTIVALS or -1
    subtotal: Ints  # fen
    discount: Ints
    shipping: Ints
    total: Ints
    refunded: Ints
    refund_at: Ints  # µs or -1
    refund_line: Ints  # -1: the whole order; else the refunded line's position
    status: Ints
    line_start: Ints
    line_count: Ints
    line_product: Ints  # per line: index into catalog.PRODUCTS
    line_quantity: Ints
    level_rise_at: Ints  # µs of a member-level identify after this order, or -1
    level_after: Ints  # index into LEVELS after this order
    member_level: Ints  # per customer: the member level trait (members only)
    member_level_at: Ints  # per customer: when it was last set

    def __len__(self) -> int:
        return len(self.customer)


def _categories_in(rng: np.random.Generator, probabilities: dict[str, float], n: int) -> Ints:
    w = np.array([probabilities.get(c, 0.0) for c in ALL_CATEGORIES])
    return rng.choice(len(ALL_CATEGORIES), n, p=w / w.sum())


def _product_in(rng: np.random.Generator, category: Ints) -> Ints:
    out = np.empty(len(category), dtype=np.int64)
    for c in range(len(ALL_CATEGORIES)):
        mask = category == c
        choices = np.flatnonzero(c == PRODUCT_CATEGORY)
        out[mask] = choices[rng.integers(0, len(choices), int(mask.sum()))]
    return out


def _order_skeleton(rng: np.random.Generator, cal: BrandCalendar, p: People) -> tuple[Ints, Ints, Ints]:
    """(customer, day, is_first) of every order, unsorted."""
    buyers = np.flatnonzero(p.buys)
    span = (p.active_end - p.acquired)[buyers]
    repeat = np.array([x.repeat for x in PERSONAS])[p.persona[buyers]]
    festive = np.array([x.festival_extra for x in PERSONAS])[p.persona[buyers]]
    extra = np.minimum(rng.poisson(repeat * span / 80 + festive * span / 120), 40)
    extra[span < 1] = 0
    who = np.repeat(buyers, extra)
    days = cal.days_between(rng, p.acquired[who] + 1, p.active_end[who])
    customer = np.concatenate([buyers, who])
    day = np.concatenate([p.acquired[buyers], days])
    first = np.concatenate([np.ones(len(buyers), np.int64), np.zeros(len(who), np.int64)])
    return customer, day, first


def make_orders(rng: np.random.Generator, cal: BrandCalendar, p: People) -> Orders:
    customer, day, first = _order_skeleton(rng, cal, p)
    n = len(customer)
    r = rng.random(n)
    repeat_channel = np.where(r < 0.8, p.channel[customer], np.where(r < 0.9, TMALL, DOUYIN))
    repeat_channel = np.where((p.channel[customer] == STORE) & (rng.random(n) < 0.7), STORE, repeat_channel)
    repeat_channel = np.where(
        p.in_mini_program[customer] & (rng.random(n) < 0.55), MINIPROGRAM, repeat_channel
    )
    channel = np.where(first == 1, p.channel[customer], repeat_channel)
    at = np.where(first == 1, p.first_at[customer], cal.moments(rng, day, store=channel == STORE))
    order = np.lexsort((at, customer))
    customer, day, first, channel, at = customer[order], day[order], first[order], channel[order], at[order]
    starts = np.r_[0, np.flatnonzero(np.diff(customer)) + 1]
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    number = np.arange(n) - starts[group]

    # lines: the first basket depends on the channel, later ones on the customer's favourite category
    line_count = np.where(first == 1, 1, rng.choice(3, n, p=[0.6, 0.3, 0.1]) + 1)
    lead = np.empty(n, dtype=np.int64)
    for c in (DOUYIN, TMALL, STORE, MINIPROGRAM):
        mask = (first == 1) & (channel == c)
        lead[mask] = _categories_in(rng, catalog.FIRST_BASKET[CHANNELS[c]], int(mask.sum()))
    later = first == 0
    lead[later] = np.where(
        rng.random(int(later.sum())) < 0.5, p.favourite[customer[later]], rng.integers(0, 5, int(later.sum()))
    )
    trial = ALL_CATEGORIES.index("体验装")
    line_count += (first == 1) & (lead != trial) & (rng.random(n) < 0.35)
    line_order = np.repeat(np.arange(n), line_count)
    line_start = np.r_[0, np.cumsum(line_count)[:-1]]
    position = np.arange(len(line_order)) - line_start[line_order]
    category = np.where(position == 0, lead[line_order], rng.integers(0, 5, len(line_order)))
    off_season = (category == SUNSCREEN) & (
        (cal.month[day[line_order]] < 4) | (cal.month[day[line_order]] > 9)
    )
    category[off_season] = MASK
    product = _product_in(rng, category)
    head = product[line_start[line_order]]
    clash = (position > 0) & (product == head)
    product[clash] = (product[clash] + 1) % len(catalog.PRODUCTS)
    festival = cal.festival[day].astype(np.int64)
    stock_up = np.where(festival[line_order] >= 0, 0.15, 0.03)
    quantity = np.where(rng.random(len(line_order)) < stock_up, 2, 1)

    amount = PRICE_FEN[product] * quantity
    subtotal = np.bincount(line_order, weights=amount, minlength=n).astype(np.int64)
    promo = festival >= 0
    safe = np.maximum(festival, 0)
    discount = np.where(promo, subtotal // cal.threshold_fen[safe] * cal.cut_fen[safe], 0)
    discount = np.where(~promo & (channel == DOUYIN), (subtotal * 15 + 50) // 100, discount)  # 直播间价
    shipping = np.where((channel == MINIPROGRAM) & (subtotal < 9900), 1000, 0)
    total = subtotal - discount + shipping

    refund = rng.random(n) < REFUND_RATE
    whole = (line_count == 1) | (rng.random(n) < 0.7)
    refund_line = np.where(whole, -1, (rng.random(n) * line_count).astype(np.int64))
    refund_at = at + rng.integers(2, 12, n) * DAY_US + rng.integers(0, 24, n) * HOUR_US
    refund &= refund_at < cal.now_us
    line_amount = amount[line_start + np.maximum(refund_line, 0)]
    refunded = np.where(refund, np.where(refund_line < 0, total, line_amount), 0)
    status = np.where(refunded >= total, REFUNDED, np.where(refunded > 0, PARTIALLY_REFUNDED, COMPLETED))
    status = np.where(refunded == 0, COMPLETED, status)

    rise, level_after, level, level_at = _member_levels(rng, p, customer, at, total, starts, group)
    # orders get their ids in time order, as ingestion creates them
    chrono = np.argsort(at, kind="stable")
    new_start = np.r_[0, np.cumsum(line_count[chrono])[:-1]]
    lines = np.repeat(line_start[chrono] - new_start, line_count[chrono]) + np.arange(len(product))
    return _compact(
        Orders(
            customer=customer[chrono],
            at=at[chrono],
            channel=channel[chrono],
            number=number[chrono],
            festival=festival[chrono],
            subtotal=subtotal[chrono],
            discount=discount[chrono],
            shipping=shipping[chrono],
            total=total[chrono],
            refunded=refunded[chrono],
            refund_at=np.where(refund, refund_at, -1)[chrono],
            refund_line=refund_line[chrono],
            status=status[chrono],
            line_start=new_start,
            line_count=line_count[chrono],
            line_product=product[lines],
            line_quantity=quantity[lines],
            level_rise_at=rise[chrono],
            level_after=level_after[chrono],
            member_level=level,
            member_level_at=level_at,
        )
    )


SMALL = {
    "customer": np.int32,
    "channel": np.int8,
    "number": np.int16,
    "festival": np.int8,
    "refund_line": np.int8,
    "status": np.int8,
    "line_count": np.int8,
    "line_product": np.int8,
    "line_quantity": np.int8,
    "level_after": np.int8,
    "member_level": np.int8,
}


def _compact(o: Orders) -> Orders:
    for name, dtype in SMALL.items():
        setattr(o, name, getattr(o, name).astype(dtype))
    return o


def _member_levels(
    rng: np.random.Generator, p: People, customer: Ints, at: Ints, total: Ints, starts: Ints, group: Ints
) -> tuple[Ints, Ints, Ints, Ints]:
    """Members' level after each order (by cumulative spend), the identify that announces a rise, and
    each member's final level and when it was set (the join, or the last rise)."""
    cum = np.cumsum(total)
    before_group = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0)
    spent = cum - before_group[group]
    level_after = np.searchsorted(LEVEL_FEN, spent, side="right") - 1
    level_before = np.where(np.arange(len(customer)) == starts[group], 0, np.r_[0, level_after[:-1]])
    member = p.member[customer]
    after_join = at >= p.join_at[customer]
    join_level = np.zeros(p.count, dtype=np.int64)
    np.maximum.at(join_level, customer[~after_join], level_after[~after_join])
    rises = member & after_join & (level_after > np.maximum(level_before, join_level[customer]))
    rise_at = np.where(rises, at + rng.integers(1, 5, len(customer)) * US, -1)
    level = join_level.copy()
    np.maximum.at(level, customer[member & after_join], level_after[member & after_join])
    level_at = p.join_at.copy()
    np.maximum.at(level_at, customer[rises], rise_at[rises])
    return rise_at, level_after, level, level_at
