"""The demo brand looks like a real skincare brand: checks that fail when the simulation drifts."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from siyu.commerce import ecommerce
from siyu.core.pii import normalise_email, normalise_phone
from siyu.demo.catalog import CHANNELS
from siyu.demo.generator import HISTORY_DAYS, DemoCustomer
from siyu.demo.messages import DemoMessage
from siyu.events.spec import parse_message
from tests.demo.conftest import ANCHOR

ZONE = ZoneInfo("Asia/Shanghai")
MONEY = re.compile(r"^\d+\.\d{2}$")


def _orders(c: DemoCustomer) -> list[DemoMessage]:
    return [m for m in c.messages if m.payload.get("event") == "Order Completed"]


def _buyers(population: list[DemoCustomer]) -> list[DemoCustomer]:
    return [c for c in population if _orders(c)]


def test_every_message_passes_validation(population: list[DemoCustomer]) -> None:
    for c in population:
        for m in c.messages:
            msg = parse_message(m.payload, received_at=ANCHOR, batch_sent_at=None)
            assert msg.timestamp == m.at
            assert len(m.payload["messageId"]) == 36
            if msg.type == "track" and msg.name:
                ecommerce.parse(msg.name, msg.properties, "CNY")


def test_a_realistic_mix_of_prospects_and_buyers(population: list[DemoCustomer]) -> None:
    buyers = _buyers(population)
    prospects = 1 - len(buyers) / len(population)
    assert 0.2 <= prospects <= 0.4, prospects
    repeaters = sum(len(_orders(c)) >= 2 for c in buyers) / len(buyers)
    assert 0.25 <= repeaters <= 0.55, repeaters  # skincare repurchase rates are typically 30-40 %
    loyal = sum(len(_orders(c)) >= 5 for c in buyers) / len(buyers)
    assert 0.05 <= loyal <= 0.25, loyal


def test_about_three_percent_of_orders_are_refunded(population: list[DemoCustomer]) -> None:
    orders = sum(len(_orders(c)) for c in population)
    refunds = [m for c in population for m in c.messages if m.payload.get("event") == "Order Refunded"]
    assert 0.015 <= len(refunds) / orders <= 0.05
    partial = [m for m in refunds if "products" in m.payload["properties"]]
    assert partial and len(partial) < len(refunds)


def test_lifecycle_situations_all_occur(population: list[DemoCustomer]) -> None:
    buyers = _buyers(population)

    def share(low: int, high: int) -> float:
        days = [(ANCHOR - max(m.at for m in c.messages)).days for c in buyers]
        return sum(low <= d < high for d in days) / len(days)

    assert share(0, 30) >= 0.1, "active buyers"
    assert share(30, 90) >= 0.05, "dormant buyers (no activity for 30-90 days)"
    assert share(180, 10_000) >= 0.2, "churned buyers (nothing for more than 180 days)"
    new = sum((ANCHOR - min(m.at for m in _orders(c))).days < 30 for c in buyers) / len(buyers)
    assert new >= 0.02, "new buyers"


def _orders_per_day(population: list[DemoCustomer]) -> Counter[date]:
    return Counter(m.at.astimezone(ZONE).date() for c in population for m in _orders(c))


def _mean_per_day(counts: Counter[date], keep: Callable[[date], bool]) -> float:
    days = [ANCHOR.date() - timedelta(days=i) for i in range(1, HISTORY_DAYS)]
    chosen = [d for d in days if keep(d)]
    return sum(counts[d] for d in chosen) / len(chosen)


def test_festivals_drive_sales(population: list[DemoCustomer]) -> None:
    def double11(d: date) -> bool:
        return (d.month, d.day) >= (10, 20) and (d.month, d.day) <= (11, 11)

    def s618(d: date) -> bool:
        return (5, 26) <= (d.month, d.day) <= (6, 18)

    def festival(d: date) -> bool:
        return (
            double11(d)
            or s618(d)
            or (3, 1) <= (d.month, d.day) <= (3, 8)
            or (d.month == 12 and 8 <= d.day <= 12)
        )

    counts = _orders_per_day(population)
    ordinary = _mean_per_day(counts, lambda d: not festival(d))
    assert _mean_per_day(counts, double11) >= 2 * ordinary
    assert _mean_per_day(counts, s618) >= 2 * ordinary
    peak = max(counts, key=lambda d: counts[d])
    assert (peak.month, peak.day) in {(11, d) for d in range(8, 12)} | {(6, d) for d in range(15, 19)} | {
        (3, d) for d in range(6, 9)
    }, peak


def test_repurchases_follow_how_long_each_product_lasts(population: list[DemoCustomer]) -> None:
    gaps: dict[str, list[int]] = defaultdict(list)
    for c in _buyers(population):
        last: dict[str, datetime] = {}
        for m in _orders(c):
            for line in m.payload["properties"]["products"]:
                category = line["category"]
                if category in last:
                    gaps[category].append((m.at - last[category]).days)
                last[category] = m.at
    median = {k: statistics.median(v) for k, v in gaps.items() if len(v) >= 20}
    assert 75 <= median["精华"] <= 120, median  # a 30 ml serum lasts about 90 days
    assert 50 <= median["面霜"] <= 80, median
    assert 38 <= median["洁面"] <= 60, median
    assert 24 <= median["面膜"] <= 40, median
    assert median["面膜"] < median["洁面"] < median["面霜"] < median["精华"]


def test_sunscreen_sells_in_season_only(population: list[DemoCustomer]) -> None:
    months = [
        m.at.astimezone(ZONE).month
        for c in population
        for m in _orders(c)
        for line in m.payload["properties"]["products"]
        if line["category"] == "防晒"
    ]
    assert len(months) >= 20
    assert set(months) <= {4, 5, 6, 7, 8, 9}


def test_order_amounts_are_exact_fen(population: list[DemoCustomer]) -> None:
    for c in population:
        for m in _orders(c):
            p = m.payload["properties"]
            assert p["currency"] == "CNY"
            for name in ("total", "subtotal", "discount", "shipping"):
                assert isinstance(p[name], str) and MONEY.match(p[name]), p
            lines = sum(Decimal(x["price"]) * x["quantity"] for x in p["products"])
            assert Decimal(p["subtotal"]) == lines
            total = Decimal(p["subtotal"]) - Decimal(p["discount"]) + Decimal(p["shipping"])
            assert Decimal(p["total"]) == total > 0


def test_customers_look_like_people_in_china(population: list[DemoCustomer]) -> None:
    people = [c.person for c in population]
    phones = [p.phone for p in people if p.phone]
    assert 0.85 <= len(phones) / len(people) < 1
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"\+861[3-9]\d{9}", normalise_phone(p)) for p in phones)
    emails = [p.email for p in people if p.email]
    assert 0.1 <= len(emails) / len(people) <= 0.3
    assert all(normalise_email(e) for e in emails)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", p.name) for p in people)
    assert 0.8 <= sum(p.gender == "female" for p in people) / len(people) <= 0.95
    assert len({p.member_id for p in people}) == len(people)
    assert len({p.city for p in people}) >= 15


def test_every_channel_speaks_and_identities_need_resolving(population: list[DemoCustomer]) -> None:
    stream = [m for c in population for m in c.messages]
    assert {m.channel for m in stream} == {c.code for c in CHANNELS}
    kinds = Counter(m.payload["type"] for m in stream)
    assert {"identify", "track", "page", "screen"} <= set(kinds)
    events = Counter(m.payload.get("event") for m in stream)
    assert events["Product Viewed"] > events["Product Added"] > 0
    # anonymous mini-program visitors who log in later: the same device id first alone, then with a user id
    logged_in = {
        m.payload["anonymousId"] for m in stream if m.channel == "miniprogram" and "userId" in m.payload
    }
    anonymous_first = {
        c.person.device_id
        for c in population
        for m in c.messages[:1]
        if m.channel == "miniprogram" and "userId" not in m.payload
    }
    assert len(anonymous_first & logged_in) >= 20
    traits = [m.payload["traits"] for m in stream if m.payload["type"] == "identify"]
    for name in ("name", "gender", "city", "birthday", "skin_type", "member_level", "source_channel"):
        assert any(name in t for t in traits), name
