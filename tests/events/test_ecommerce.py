"""Segment e-commerce events through `/v1/batch`: exact money in minor units, refunds, idempotent orders."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from siyu.commerce.tables import Order, OrderLine, Product
from siyu.core.database import session_factory
from tests.events.tracking import all_events, customer_by, send_batch, track


def _orders(db_url: str) -> dict[str, Order]:
    with session_factory(db_url)() as s:
        return {o.external_id: o for o in s.scalars(select(Order))}


def _completed(user_id: str, order_id: str, **props: Any) -> dict[str, Any]:
    return track(user_id, "Order Completed", {"order_id": order_id, **props})


def _refunded(user_id: str, order_id: str, **props: Any) -> dict[str, Any]:
    return track(user_id, "Order Refunded", {"order_id": order_id, **props})


def _stats(api: httpx.Client, user_id: str) -> dict[str, Any]:
    stats: dict[str, Any] = customer_by(api, f"user_id:{user_id}")["stats"]
    return stats


def test_decimal_totals_are_exact_in_minor_units(
    tracker: httpx.Client, api: httpx.Client, db_url: str
) -> None:
    send_batch(
        tracker,
        _completed("u-money", "o-1", total=0.1),
        _completed("u-money", "o-2", total=0.2),
        _completed("u-money", "o-3", total=0.1 + 0.2),  # 0.30000000000000004 on the wire
        _completed("u-money", "o-4", revenue="199.90", currency="cny"),
        _completed(
            "u-money",
            "o-5",
            products=[
                {"product_id": "serum", "price": 19.99, "quantity": 3},
                {"product_id": "sample", "price": "0.01"},
            ],
        ),
    )
    orders = _orders(db_url)
    assert {k: o.total_minor for k, o in orders.items()} == {
        "o-1": 10,
        "o-2": 20,
        "o-3": 30,
        "o-4": 19990,
        "o-5": 5998,
    }
    assert {o.currency for o in orders.values()} == {"CNY"}
    assert {o.status for o in orders.values()} == {"completed"}

    stats = _stats(api, "u-money")
    assert stats["orders_count"] == 5
    assert stats["total_spent_minor"] == 26048
    assert stats["total_spent"] == "260.48"
    assert stats["average_order_value_minor"] == 26048 // 5
    assert stats["average_order_value"] == "52.09"
    assert stats["refunded_minor"] == 0
    assert stats["currency"] == "CNY"
    assert stats["first_order_at"] is not None and stats["last_order_at"] is not None


def test_zero_decimal_currency(tracker: httpx.Client, api: httpx.Client, db_url: str) -> None:
    send_batch(tracker, _completed("u-yen", "jp-1", total=1999, currency="JPY"))
    assert _orders(db_url)["jp-1"].total_minor == 1999
    stats = _stats(api, "u-yen")
    assert (stats["total_spent_minor"], stats["total_spent"], stats["currency"]) == (1999, "1999", "JPY")


def test_partial_then_full_refund_adjusts_spend_count_and_aov(
    tracker: httpx.Client, api: httpx.Client, db_url: str
) -> None:
    send_batch(
        tracker, _completed("u-refund", "r-A", total="100.00"), _completed("u-refund", "r-B", total=199.9)
    )
    before = _stats(api, "u-refund")
    assert (before["orders_count"], before["total_spent_minor"], before["average_order_value_minor"]) == (
        2,
        29990,
        14995,
    )

    send_batch(tracker, _refunded("u-refund", "r-B", total=50))
    partial = _stats(api, "u-refund")
    assert partial["orders_count"] == 2
    assert partial["total_spent_minor"] == 24990
    assert partial["total_spent"] == "249.90"
    assert partial["refunded_minor"] == 5000
    assert partial["average_order_value_minor"] == 12495
    assert partial["average_order_value"] == "124.95"
    assert _orders(db_url)["r-B"].status == "partially_refunded"

    send_batch(tracker, _refunded("u-refund", "r-B"))  # no amount: the whole order
    full = _stats(api, "u-refund")
    assert full["orders_count"] == 1
    assert full["total_spent_minor"] == 10000
    assert full["total_spent"] == "100.00"
    assert full["refunded_minor"] == 19990
    assert full["average_order_value_minor"] == 10000
    orders = _orders(db_url)
    assert (orders["r-B"].status, orders["r-B"].refunded_minor) == ("refunded", 19990)
    assert orders["r-A"].status == "completed"


def test_refund_sent_as_negative_total_and_refund_everything(
    tracker: httpx.Client, api: httpx.Client
) -> None:
    send_batch(tracker, _completed("u-neg", "n-1", total=88.8))
    send_batch(tracker, _refunded("u-neg", "n-1", total=-8.8))
    stats = _stats(api, "u-neg")
    assert (stats["orders_count"], stats["total_spent"], stats["refunded_minor"]) == (1, "80.00", 880)

    send_batch(tracker, _refunded("u-neg", "n-1", total=80))
    stats = _stats(api, "u-neg")
    assert (stats["orders_count"], stats["total_spent_minor"], stats["refunded_minor"]) == (0, 0, 8880)
    assert stats["average_order_value_minor"] is None


def test_repeated_order_completed_is_not_counted_twice(
    tracker: httpx.Client, api: httpx.Client, db_url: str
) -> None:
    products = [{"product_id": "cream", "price": 120, "quantity": 1}, {"product_id": "toner", "price": 79.9}]
    first = _completed("u-again", "same-order", total=199.9, products=products)
    resent = _completed("u-again", "same-order", total=199.9, products=products)  # new messageId
    send_batch(tracker, first)
    send_batch(tracker, resent)

    stats = _stats(api, "u-again")
    assert stats["orders_count"] == 1
    assert stats["total_spent_minor"] == 19990
    assert stats["events_count"] == 2  # both messages are events; only one order
    (order,) = _orders(db_url).values()
    with session_factory(db_url)() as s:
        lines = s.scalar(select(func.count()).select_from(OrderLine).where(OrderLine.order_pk == order.id))
    assert lines == 2


def test_corrected_order_replaces_the_total(tracker: httpx.Client, api: httpx.Client) -> None:
    send_batch(tracker, _completed("u-fix", "fix-1", total=300))
    send_batch(tracker, _completed("u-fix", "fix-1", total=280.5))
    stats = _stats(api, "u-fix")
    assert (stats["orders_count"], stats["total_spent"]) == (1, "280.50")


def test_orders_are_per_source(
    tracker: httpx.Client, live_server: Any, other_write_key: str, api: httpx.Client
) -> None:
    send_batch(tracker, _completed("u-src", "1001", total=10))
    with httpx.Client(base_url=live_server.url, auth=(other_write_key, "")) as other:
        send_batch(other, _completed("u-src", "1001", total=20))  # Tmall's 1001 is not the POS's 1001
    stats = _stats(api, "u-src")
    assert (stats["orders_count"], stats["total_spent_minor"]) == (2, 3000)


def test_invalid_order_rejects_only_itself(tracker: httpx.Client, api: httpx.Client, db_url: str) -> None:
    bad_qty = _completed("u-bad", "b-1", products=[{"product_id": "p", "price": 1, "quantity": 1.5}])
    bad_currency = _completed("u-bad", "b-2", total=1, currency="yuan")
    good = _completed("u-bad", "b-3", total=9.9)
    response = tracker.post("/v1/batch", json={"batch": [bad_qty, bad_currency, good]})
    assert response.status_code == 200
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
        (0, "properties.products[0].quantity"),
        (1, "properties.currency"),
    ]
    assert set(_orders(db_url)) == {"b-3"}
    assert _stats(api, "u-bad")["orders_count"] == 1


def test_product_viewed_creates_and_updates_products(
    tracker: httpx.Client, api: httpx.Client, viewer_token: str, live_server: Any, db_url: str
) -> None:
    viewed = track(
        "u-prod",
        "Product Viewed",
        {
            "product_id": "SK-001",
            "sku": "SK-001-50ML",
            "name": "Rose Repair Serum",
            "category": "Serum",
            "brand": "Siyu Lab",
            "price": 259.9,
        },
    )
    added = track("u-prod", "Product Added", {"product_id": "SK-001", "price": "239.90", "quantity": 2})
    send_batch(tracker, viewed)
    send_batch(tracker, added)
    send_batch(
        tracker, _completed("u-prod", "p-o", products=[{"product_id": "MASK-9", "name": "Mask", "price": 9}])
    )
    with session_factory(db_url)() as s:
        products = {p.product_id: p for p in s.scalars(select(Product))}
    assert set(products) == {"SK-001", "MASK-9"}
    serum = products["SK-001"]
    assert (serum.sku, serum.name, serum.category, serum.brand) == (
        "SK-001-50ML",
        "Rose Repair Serum",
        "Serum",
        "Siyu Lab",
    )
    assert serum.price_minor == 23990  # the later event's price; other fields kept
    assert serum.currency == "CNY"
    assert products["MASK-9"].price_minor == 900

    # A product's `name` is not a person's name: even a viewer sees it unmasked.
    profile = customer_by(api, "user_id:u-prod")
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {viewer_token}"}
    ) as viewer:
        events = all_events(viewer, profile["id"])
    (shown,) = [e for e in events if e["message_id"] == viewed["messageId"]]
    assert shown["properties"]["name"] == "Rose Repair Serum"
    assert profile["stats"]["orders_count"] == 1
