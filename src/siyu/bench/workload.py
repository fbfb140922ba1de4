"""The benchmark's synthetic traffic: seeded Segment `/v1/batch` bodies for a skincare brand.

~10% identify (phone, email, name and a few plain traits), ~90% track (views, carts, coupons and
`Order Completed` with order lines), spread over N distinct users; every message has a unique `messageId`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

IDENTIFY_SHARE = 0.10
# (event name, weight) for track messages; `Order Completed` is about 5% of all traffic.
TRACK_EVENTS = (
    ("Product Viewed", 35),
    ("Mini Program Opened", 20),
    ("Article Read", 12),
    ("Product Added", 12),
    ("Coupon Claimed", 8),
    ("Checkout Started", 6),
    ("Order Completed", 6),
)
PRODUCTS = (
    ("sku-serum-30", "Hydra Serum 30ml", "serum", 299.0),
    ("sku-cream-50", "Barrier Cream 50ml", "cream", 239.0),
    ("sku-toner-200", "Calming Toner 200ml", "toner", 159.0),
    ("sku-mask-5", "Sheet Mask x5", "mask", 89.0),
    ("sku-sun-40", "Daily Sunscreen SPF50", "sunscreen", 189.0),
    ("sku-cleanser-120", "Amino Cleanser 120ml", "cleanser", 99.0),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍"
CITIES = ("上海", "北京", "杭州", "广州", "深圳", "成都", "南京", "武汉")
CHANNELS = ("mini_program", "douyin", "tmall", "store", "wecom")
HISTORY_DAYS = 90


@dataclass(frozen=True)
class Workload:
    """`bodies[i]` is request i's JSON without the leading `{"sentAt":"…",` (added at send time)."""

    bodies: list[bytes]
    events: int
    users_touched: int


def _phone(user: int) -> str:
    return f"139{user:08d}"


def _identify(rng: random.Random, user: int, message_id: str, when: str) -> dict[str, object]:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": f"u{user}",
        "anonymousId": f"a{user}",
        "timestamp": when,
        "traits": {
            "phone": _phone(user),
            "email": f"user{user}@example.com",
            "name": name,
            "city": rng.choice(CITIES),
            "member_level": rng.choice(("bronze", "silver", "gold")),
            "skin_type": rng.choice(("dry", "oily", "combination", "sensitive")),
        },
        "context": {"library": {"name": "siyu-bench", "version": "1"}, "channel": rng.choice(CHANNELS)},
    }


def _track(rng: random.Random, user: int, message_id: str, when: str, event: str) -> dict[str, object]:
    sku, product, category, price = rng.choice(PRODUCTS)
    properties: dict[str, object]
    if event == "Order Completed":
        lines = rng.sample(PRODUCTS, k=rng.randint(1, 3))
        products = [
            {"product_id": s, "sku": s, "name": n, "category": c, "price": p, "quantity": rng.randint(1, 2)}
            for s, n, c, p in lines
        ]
        total = sum(float(str(p["price"])) * int(str(p["quantity"])) for p in products)
        properties = {
            "order_id": f"o-{message_id}",
            "total": round(total, 2),
            "revenue": round(total, 2),
            "currency": "CNY",
            "products": products,
        }
    elif event in ("Product Viewed", "Product Added"):
        properties = {"product_id": sku, "sku": sku, "name": product, "category": category, "price": price}
    else:
        properties = {"page": rng.choice(("home", "detail", "campaign")), "value": rng.randint(1, 100)}
    return {
        "type": "track",
        "messageId": message_id,
        "userId": f"u{user}",
        "anonymousId": f"a{user}",
        "event": event,
        "timestamp": when,
        "properties": properties,
        "context": {"library": {"name": "siyu-bench", "version": "1"}, "channel": rng.choice(CHANNELS)},
    }


def generate(
    events: int,
    customers: int,
    batch: int,
    seed: int = 7,
    run_id: str = "run",
    end: datetime | None = None,
) -> Workload:
    """Request bodies for `events` messages over users 0..customers-1, timestamps spread over the
    `HISTORY_DAYS` before `end` (default now); the same arguments give the same bytes."""
    if events < 1 or customers < 1 or batch < 1:
        raise ValueError("events, customers and batch must be at least 1")
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic traffic, not secrets)
    names = [name for name, _ in TRACK_EVENTS]
    weights = [weight for _, weight in TRACK_EVENTS]
    start = (end or datetime.now(UTC)) - timedelta(days=HISTORY_DAYS)
    step = HISTORY_DAYS * 86400 / events
    touched: set[int] = set()
    bodies: list[bytes] = []
    for first in range(0, events, batch):
        messages = []
        for i in range(first, min(first + batch, events)):
            user = rng.randrange(customers)
            touched.add(user)
            when = (start + timedelta(seconds=i * step)).isoformat(timespec="milliseconds")
            message_id = f"{run_id}-{i}"
            if rng.random() < IDENTIFY_SHARE:
                messages.append(_identify(rng, user, message_id, when))
            else:
                event = rng.choices(names, weights)[0]
                messages.append(_track(rng, user, message_id, when, event))
        # `"batch":[…]}` — the caller prepends `{"sentAt":"…",` so sentAt is the real send time.
        bodies.append(orjson.dumps({"batch": messages})[1:])
    return Workload(bodies=bodies, events=events, users_touched=len(touched))


def with_sent_at(body: bytes, sent_at: datetime) -> bytes:
    return b'{"sentAt":"' + sent_at.isoformat(timespec="milliseconds").encode() + b'",' + body
