"""Every condition type against hand-built customers, on SQLite and PostgreSQL; each answer is also checked
customer by customer through the restricted (incremental) query, which must agree with the full one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from siyu.customers.tables import Customer
from tests.segments.world import World

VIEWED = "Product Viewed"


def brand(w: World) -> dict[str, int]:
    """alice: gold VIP, birthday in 4 days, 3 recent 精华 views, one 1200 order of 精华.
    bob: silver, 5 recent 面霜 views + 1 old 精华 view, orders 100 + 300 (+ 50 fully refunded).
    carol: one page view, nothing else. dave: a gold VIP with views and orders, but merged away (his rows
    left behind on purpose): merged customers are never members of anything."""
    alice = w.identify(
        "alice",
        plan="gold",
        age=30,
        vip=True,
        birthday="1990-11-05",
        signup_date="2026-10-25",
        expiry="2026-11-20",
        interests=["护肤", "彩妆"],
        bio="爱好护肤和旅行",
        live_code="douyin-0618",
        phone="13900000001",
    )
    for days in (0.1, 2, 6):
        w.track("alice", VIEWED, days, category="精华", price=300)
    w.order("alice", "a1", 1200, 12, product_id="p1", sku="s1", category="精华")
    bob = w.identify("bob", plan="silver", age=45, vip=False, birthday="1980-03-01", signup_date="2025-01-10")
    for days in (0.2, 1, 1.5, 3, 4):
        w.track("bob", VIEWED, days, category="面霜")
    w.track("bob", VIEWED, 10, category="精华")
    w.order("bob", "b1", 100, 40, product_id="p2", category="面霜")
    w.order("bob", "b2", 300, 3, product_id="p3", sku="s3", category="面霜")
    w.order("bob", "b3", 50, 2, product_id="p4", category="精华")
    w.refund("bob", "b3", 1)
    carol = w.page("carol", 1)
    dave = w.identify("dave", plan="gold", vip=True, birthday="1990-11-02", phone="13900000009")
    for days in (0.1, 1, 2):
        w.track("dave", VIEWED, days, category="精华")
    w.order("dave", "d1", 5000, 1, product_id="p1", category="精华")
    w.session.execute(update(Customer).where(Customer.id == dave).values(merged_into_id=carol))
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def names(found: set[int], people: dict[str, int]) -> set[str]:
    by_id = {v: k for k, v in people.items()}
    return {by_id[c] for c in found}


def ask(w: World, people: dict[str, int], root: dict[str, Any]) -> set[str]:
    return names(w.check(root, people.values()), people)


TRAITS = [
    ({"op": "eq", "name": "plan", "value": "gold"}, {"alice"}),
    ({"op": "ne", "name": "plan", "value": "gold"}, {"bob", "carol"}),  # no plan counts as "not gold"
    ({"op": "in", "name": "plan", "value": ["gold", "silver"]}, {"alice", "bob"}),
    ({"op": "not_in", "name": "plan", "value": ["gold"]}, {"bob", "carol"}),
    ({"op": "gte", "name": "age", "value": 45}, {"bob"}),
    ({"op": "lt", "name": "age", "value": 45}, {"alice"}),
    ({"op": "eq", "name": "age", "value": 30.0}, {"alice"}),
    ({"op": "eq", "name": "age", "value": "30"}, set()),  # text is not a number
    ({"op": "gt", "name": "plan", "value": "h"}, {"bob"}),  # text order ("silver" > "h" > "gold")
    ({"op": "eq", "name": "vip", "value": True}, {"alice"}),
    ({"op": "eq", "name": "vip", "value": False}, {"bob"}),
    ({"op": "contains", "name": "bio", "value": "护肤"}, {"alice"}),
    ({"op": "contains", "name": "interests", "value": "彩妆"}, {"alice"}),
    ({"op": "contains", "name": "interests", "value": "彩"}, set()),  # array items match whole
    ({"op": "exists", "name": "birthday"}, {"alice", "bob"}),
    ({"op": "not_exists", "name": "birthday"}, {"carol"}),
    ({"op": "exists", "name": "phone"}, {"alice"}),  # personal data: encrypted, still present
    ({"op": "anniversary_within_days", "name": "birthday", "value": 7}, {"alice"}),
    ({"op": "anniversary_within_days", "name": "birthday", "value": 3}, set()),
    ({"op": "within_last_days", "name": "signup_date", "value": 10}, {"alice"}),
    ({"op": "within_last_days", "name": "signup_date", "value": 7}, set()),
    ({"op": "before_days_ago", "name": "signup_date", "value": 30}, {"bob"}),
    ({"op": "within_next_days", "name": "expiry", "value": 30}, {"alice"}),
    ({"op": "within_next_days", "name": "expiry", "value": 10}, set()),
]


def test_traits(world: World) -> None:
    people = brand(world)
    for spec, expected in TRAITS:
        assert ask(world, people, {"type": "trait", **spec}) == expected, spec


def test_profile_conditions(world: World) -> None:
    w, people = world, brand(world)
    alice, bob = people["alice"], people["bob"]
    vip = w.tag([alice, bob], "VIP")
    w.rfm(alice, "important_value", r=5, f=4, m=5)
    w.rfm(bob, "general_retain", r=2, f=4, m=1)
    w.lifecycle(alice, "returning")
    w.lifecycle(bob, "dormant")
    w.owner(alice, "zhangsan", "华东")
    w.owner(bob, "lisi", "华南")
    w.consent(alice, "sms", "granted")
    w.consent(bob, "sms", "unsubscribed")
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"type": "identity", "identity_type": "phone"}, {"alice"}),
        ({"type": "identity", "identity_type": "phone", "present": False}, {"bob", "carol"}),
        ({"type": "identity", "identity_type": "user_id"}, {"alice", "bob", "carol"}),
        ({"type": "tag", "tag_id": vip}, {"alice", "bob"}),
        ({"type": "tag", "tag_id": vip, "has": False}, {"carol"}),
        ({"type": "rfm", "tiers": ["important_value", "important_develop"]}, {"alice"}),
        ({"type": "rfm", "score": "f", "op": "gte", "value": 4}, {"alice", "bob"}),
        ({"type": "rfm", "score": "m", "op": "lt", "value": 2}, {"bob"}),
        ({"type": "lifecycle", "stages": ["dormant", "churned"]}, {"bob"}),
        ({"type": "owner", "staff": ["zhangsan"]}, {"alice"}),
        ({"type": "owner", "departments": ["华南"]}, {"bob"}),
        ({"type": "owner", "has_owner": False}, {"carol"}),
        ({"type": "live_code", "codes": ["douyin-0618", "other"]}, {"alice"}),
        ({"type": "consent", "channel": "sms"}, {"alice"}),
        ({"type": "consent", "channel": "sms", "status": "unsubscribed"}, {"bob"}),
        ({"type": "consent", "channel": "sms", "status": "unknown"}, {"carol"}),
        ({"type": "consent", "channel": "email"}, set()),
    ]
    for root, expected in cases:
        assert ask(w, people, root) == expected, root


def test_event_counts(world: World) -> None:
    w, people = world, brand(world)
    rich = [{"property": "category", "op": "eq", "value": "精华"}]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"event": VIEWED, "window": {"last_days": 7}, "value": 3}, {"alice", "bob"}),
        ({"event": VIEWED, "window": {"last_days": 7}, "op": "gte", "value": 5}, {"bob"}),
        ({"event": VIEWED, "where": rich, "window": {"last_days": 7}, "value": 3}, {"alice"}),
        ({"event": VIEWED, "where": rich, "window": {"last_days": 14}, "op": "eq", "value": 1}, {"bob"}),
        ({"event": VIEWED, "where": rich, "value": 1}, {"alice", "bob"}),  # all time
        ({"event": VIEWED, "window": {"last_days": 7}, "op": "lt", "value": 1}, {"carol"}),  # zero counts
        (
            {"event": VIEWED, "where": rich, "window": {"last_days": 7}, "op": "lte", "value": 2},
            {"bob", "carol"},
        ),
        (
            {"event": VIEWED, "where": [{"property": "price", "op": "gt", "value": 200}], "value": 1},
            {"alice"},
        ),
        (
            {"event": VIEWED, "where": [{"property": "category", "op": "ne", "value": "精华"}], "value": 1},
            {"bob"},
        ),
        ({"event": VIEWED, "window": {"between": ["2026-10-31", "2026-11-01"]}, "value": 3}, {"bob"}),
        ({"event": "$page", "window": {"last_days": 2}, "value": 1}, {"carol"}),
        ({"event": "$page", "where": [{"property": "name", "op": "exists"}], "value": 1}, set()),
        ({"event": "Segment Entered", "value": 1}, set()),
    ]
    for spec, expected in cases:
        assert ask(w, people, {"type": "event_count", **spec}) == expected, spec


def test_orders_and_products(world: World) -> None:
    w, people = world, brand(world)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"type": "order", "metric": "count", "op": "gte", "value": 2}, {"bob"}),  # b3 refunded: not counted
        ({"type": "order", "metric": "count", "op": "eq", "value": 0}, {"carol"}),
        ({"type": "order", "metric": "spend", "op": "gte", "value": 1000}, {"alice"}),
        ({"type": "order", "metric": "spend", "op": "lt", "value": 500}, {"bob", "carol"}),
        ({"type": "order", "metric": "aov", "op": "eq", "value": 200}, {"bob"}),
        ({"type": "order", "metric": "aov", "op": "gt", "value": 100}, {"alice", "bob"}),
        ({"type": "order", "metric": "count", "op": "gte", "value": 1, "window": {"last_days": 7}}, {"bob"}),
        (
            {"type": "order", "metric": "spend", "op": "eq", "value": 0, "window": {"last_days": 7}},
            {"alice", "carol"},
        ),
        (
            {"type": "order", "metric": "spend", "op": "gte", "value": 1200, "window": {"last_days": 30}},
            {"alice"},
        ),
        ({"type": "order", "metric": "last_order_at", "op": "within_last_days", "value": 7}, {"bob"}),
        ({"type": "order", "metric": "last_order_at", "op": "before_days_ago", "value": 7}, {"alice"}),
        ({"type": "order", "metric": "first_order_at", "op": "before", "value": "2026-10-01"}, {"bob"}),
        ({"type": "order", "metric": "first_order_at", "op": "after", "value": "2026-10-20"}, {"alice"}),
        ({"type": "order", "metric": "last_order_at", "op": "not_exists"}, {"carol"}),
        ({"type": "bought", "category": "精华"}, {"alice"}),  # bob's 精华 order was refunded
        ({"type": "bought", "category": "面霜", "window": {"last_days": 7}}, {"bob"}),
        ({"type": "bought", "product_id": "p1"}, {"alice"}),
        ({"type": "bought", "sku": "s3", "window": {"last_days": 2}}, set()),
    ]
    for root, expected in cases:
        assert ask(w, people, root) == expected, root


def test_boolean_nesting(world: World) -> None:
    w, people = world, brand(world)
    gold = {"type": "trait", "name": "plan", "op": "eq", "value": "gold"}
    viewer = {"type": "event_count", "event": VIEWED, "window": {"last_days": 7}, "value": 3}
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"type": "and", "children": [gold, viewer]}, {"alice"}),
        ({"type": "or", "children": [gold, viewer]}, {"alice", "bob"}),
        ({"type": "not", "child": gold}, {"bob", "carol"}),
        ({"type": "not", "child": {"type": "or", "children": [gold, viewer]}}, {"carol"}),
        (
            {"type": "and", "children": [{"type": "not", "child": gold}, {"type": "not", "child": viewer}]},
            {"carol"},
        ),
        ({"type": "or", "children": [{"type": "not", "child": gold}, viewer]}, {"alice", "bob", "carol"}),
        ({"type": "and", "children": [viewer, {"type": "not", "child": gold}]}, {"bob"}),
    ]
    for root, expected in cases:
        assert ask(w, people, root) == expected, root
