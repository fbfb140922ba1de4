"""Every event of the bench brand as compact NumPy arrays, in time order: joins, WeCom contacts, orders,
refunds and member-level changes, then mini-program browsing that fills the requested event count in
proportion to each customer's activity. Also the per-customer stats and daily rollups they imply.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siyu.bench.seg_calendar import BrandCalendar, local_days
from siyu.bench.seg_orders import PRODUCT_CATEGORY, REFUNDED, Orders
from siyu.bench.seg_people import MINIPROGRAM, WECOM, People
from siyu.demo import catalog

Ints = NDArray[Any]
IDENTIFY, SIGNED_UP, CONTACT_ADDED, SCREEN, PAGE, VIEWED, ADDED, COMPLETED, REFUNDED_EVENT = range(9)
ROLLUP_NAMES = (
    "$identify",
    "Signed Up",
    "Contact Added",
    "$screen",
    "$page",
    "Product Viewed",
    "Product Added",
    "Order Completed",
    "Order Refunded",
)
JOIN, CONTACT, LEVEL = 0, 1, 2  # `detail` of an identify
BROWSE = (SCREEN, PAGE, VIEWED, ADDED)
BROWSE_SHARE = (0.274, 0.056, 0.56, 0.11)  # the demo's mix: 1.70 screens, 0.35 pages, 3.47 views, 0.68 adds


@dataclass
class Events:
    customer: NDArray[Any]
    at: Ints  # µs, UTC
    kind: NDArray[Any]
    source: NDArray[Any]  # channel index
    product: NDArray[Any]  # -1 when none
    order: NDArray[Any]  # -1 when none
    detail: NDArray[Any]  # identify: JOIN/CONTACT/LEVEL; page: festival index

    def __len__(self) -> int:
        return len(self.customer)


@dataclass
class Stats:
    """What `customers.stats` would hold for each customer (-1 for a missing time)."""

    events_count: Ints
    first_seen: Ints
    last_seen: Ints
    orders_count: Ints
    spent: Ints
    refunded: Ints
    first_order: Ints
    last_order: Ints
    has_orders: NDArray[Any]


def _fixed(p: People, o: Orders) -> list[tuple[Ints, Ints, int, Ints, Ints, Ints]]:
    """(customer, at, kind, source, order, detail) blocks of the events the model fixes."""
    members = np.flatnonzero(p.member)
    contacts = np.flatnonzero(p.contact)
    refunds = np.flatnonzero(o.refund_at >= 0)
    rises = np.flatnonzero(o.level_rise_at >= 0)
    none = np.full
    return [
        (
            members,
            p.join_at[members],
            IDENTIFY,
            p.join_channel[members],
            none(len(members), -1),
            none(len(members), JOIN),
        ),
        (
            members,
            p.join_at[members],
            SIGNED_UP,
            p.join_channel[members],
            none(len(members), -1),
            none(len(members), -1),
        ),
        (
            contacts,
            p.contact_at[contacts],
            IDENTIFY,
            none(len(contacts), WECOM),
            none(len(contacts), -1),
            none(len(contacts), CONTACT),
        ),
        (
            contacts,
            p.contact_at[contacts],
            CONTACT_ADDED,
            none(len(contacts), WECOM),
            none(len(contacts), -1),
            none(len(contacts), -1),
        ),
        (o.customer, o.at, COMPLETED, o.channel, np.arange(len(o)), none(len(o), -1)),
        (
            o.customer[refunds],
            o.refund_at[refunds],
            REFUNDED_EVENT,
            o.channel[refunds],
            refunds,
            none(len(refunds), -1),
        ),
        (
            o.customer[rises],
            o.level_rise_at[rises],
            IDENTIFY,
            p.join_channel[o.customer[rises]],
            rises,
            none(len(rises), LEVEL),
        ),
    ]


def make_events(rng: np.random.Generator, cal: BrandCalendar, p: People, o: Orders, target: int) -> Events:
    blocks = _fixed(p, o)
    fixed = sum(len(b[0]) for b in blocks)
    seen = np.zeros(p.count, dtype=bool)
    for b in blocks:
        seen[b[0]] = True
    forced = (~seen).astype(np.int64)  # everyone has at least one event
    budget = max(0, target - fixed - int(forced.sum()))
    browse = forced + rng.multinomial(budget, p.activity / p.activity.sum())
    who = np.repeat(np.arange(p.count, dtype=np.int32), browse)
    day = cal.days_between(rng, p.acquired[who], p.active_end[who]).astype(np.int16)
    at = cal.moments(rng, day.astype(np.int64))
    kind = np.array(BROWSE, dtype=np.int8)[rng.choice(len(BROWSE), len(who), p=np.array(BROWSE_SHARE))]
    festival = cal.festival[day]
    del day
    kind[(kind == PAGE) & (festival < 0)] = SCREEN
    product = rng.integers(0, len(catalog.PRODUCTS), len(who)).astype(np.int8)
    in_favourite = rng.random(len(who)) < 0.55
    favourite = p.favourite[who]
    for c in range(5):
        choices = np.flatnonzero(c == PRODUCT_CATEGORY)
        mask = in_favourite & (favourite == c)
        product[mask] = choices[rng.integers(0, len(choices), int(mask.sum()))]
    del in_favourite, favourite
    product[(kind != VIEWED) & (kind != ADDED)] = -1

    times = np.concatenate([b[1] for b in blocks] + [at])
    del at
    order = np.argsort(times, kind="stable")
    times = times[order]

    def assemble(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate([x.astype(dtype) for x in parts])[order]

    return Events(
        customer=assemble([b[0] for b in blocks] + [who], np.int32),
        at=times,
        kind=assemble([np.full(len(b[0]), b[2]) for b in blocks] + [kind], np.int8),
        source=assemble([b[3] for b in blocks] + [np.full(len(who), MINIPROGRAM)], np.int8),
        product=assemble([np.full(fixed, -1), product], np.int8),
        order=assemble([b[4] for b in blocks] + [np.full(len(who), -1)], np.int32),
        detail=assemble([b[5] for b in blocks] + [np.where(kind == PAGE, festival, -1)], np.int8),
    )


def _min_max(customer: Ints, at: Ints, count: int) -> tuple[Ints, Ints]:
    first = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(count, -1, dtype=np.int64)
    np.minimum.at(first, customer, at)
    np.maximum.at(last, customer, at)
    return np.where(last >= 0, first, -1), last


def stats(p: People, o: Orders, e: Events) -> Stats:
    """Per-customer figures exactly as ingestion keeps them (`customers.stats`)."""
    n = p.count
    first_seen, last_seen = _min_max(e.customer.astype(np.int64), e.at, n)
    counted = o.status != REFUNDED
    first_order, last_order = _min_max(o.customer[counted], o.at[counted], n)
    return Stats(
        events_count=np.bincount(e.customer, minlength=n).astype(np.int64),
        first_seen=first_seen,
        last_seen=last_seen,
        orders_count=np.bincount(o.customer, weights=counted, minlength=n).astype(np.int64),
        spent=np.bincount(o.customer, weights=o.total - o.refunded, minlength=n).round().astype(np.int64),
        refunded=np.bincount(o.customer, weights=o.refunded, minlength=n).round().astype(np.int64),
        first_order=first_order,
        last_order=last_order,
        has_orders=np.bincount(o.customer, minlength=n) > 0,
    )


@dataclass
class Rollups:
    customer: NDArray[Any]
    day: NDArray[Any]  # days since 1970-01-01 in the brand's zone
    kind: NDArray[Any]  # index into ROLLUP_NAMES
    count: NDArray[Any]


def rollups(e: Events, zone: str, customers: int, parts: int = 8) -> Rollups:
    """`daily_event_counts`: (customer, local day, event) → count, sorted by that key; computed over
    `parts` ranges of customers to bound the memory the sort needs."""
    day = np.empty(len(e.at), dtype=np.int32)
    step = 1_000_000
    for lo in range(0, len(e.at), step):
        day[lo : lo + step] = local_days(e.at[lo : lo + step], zone)
    base = int(day.min()) if len(day) else 0
    span = int(day.max()) - base + 1 if len(day) else 1
    parts_out: list[Rollups] = []
    bounds = np.linspace(0, customers, parts + 1).astype(np.int64)
    for lo, hi in pairwise(bounds.tolist()):
        mask = (e.customer >= lo) & (e.customer < hi)
        key = (e.customer[mask].astype(np.int64) * span + (day[mask] - base)) * 16 + e.kind[mask]
        keys, counts = np.unique(key, return_counts=True)
        parts_out.append(
            Rollups(
                customer=(keys // 16 // span).astype(np.int32),
                day=(keys // 16 % span + base).astype(np.int32),
                kind=(keys % 16).astype(np.int8),
                count=counts.astype(np.int32),
            )
        )
    return Rollups(
        customer=np.concatenate([r.customer for r in parts_out]),
        day=np.concatenate([r.day for r in parts_out]),
        kind=np.concatenate([r.kind for r in parts_out]),
        count=np.concatenate([r.count for r in parts_out]),
    )
