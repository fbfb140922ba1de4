"""Segment e-commerce events → orders, order lines and products.

`parse(event, properties)` validates before anything is written (so a bad order rejects only its own
message); `apply(...)` writes it. Completed orders are idempotent per (source, order_id); refunds add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.commerce.money import check_currency, to_decimal, to_minor
from siyu.commerce.tables import Order, OrderLine, Product
from siyu.core import fastsql
from siyu.core.database import cached_statement, insert_for
from siyu.core.errors import ValidationFailed

MAX_QUANTITY = 1_000_000
ORDER_EVENTS = {"Order Completed", "Order Refunded", "Order Cancelled"}
PRODUCT_EVENTS = {"Product Viewed", "Product Added", "Product Removed", "Product Clicked"}


@dataclass
class Line:
    product_id: str | None
    sku: str | None
    name: str | None
    category: str | None
    brand: str | None
    price_minor: int | None
    quantity: int


@dataclass
class CommerceAction:
    kind: str  # "completed" | "refunded" | "cancelled" | "product"
    order_id: str | None
    currency: str
    amounts: dict[str, int | None] = field(default_factory=dict)
    coupon: str | None = None
    lines: list[Line] = field(default_factory=list)

    def to_wire(self) -> tuple[Any, ...]:
        """Plain tuples for the ingestion writer's socket (`events.ingest.Prepared.to_wire`)."""
        lines = [
            (x.product_id, x.sku, x.name, x.category, x.brand, x.price_minor, x.quantity) for x in self.lines
        ]
        return (self.kind, self.order_id, self.currency, self.amounts, self.coupon, lines)

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> CommerceAction:
        kind, order_id, currency, amounts, coupon, lines = wire
        return cls(kind, order_id, currency, amounts, coupon, [Line(*x) for x in lines])


def _text(value: Any, limit: int = 128) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


def _lines(products: Any, currency: str) -> list[Line]:
    if products is None:
        return []
    if not isinstance(products, list):
        raise ValidationFailed("properties.products must be a list", field="properties.products")
    lines = []
    for i, p in enumerate(products):
        where = f"properties.products[{i}]"
        if not isinstance(p, dict):
            raise ValidationFailed(f"{where} must be an object", field=where)
        qty = p.get("quantity", 1)
        if isinstance(qty, bool) or not isinstance(qty, int | float | str):
            raise ValidationFailed(f"{where}.quantity must be a whole number", field=f"{where}.quantity")
        quantity = to_decimal(qty, f"{where}.quantity")
        if quantity != quantity.to_integral_value() or quantity < 0 or quantity > MAX_QUANTITY:
            raise ValidationFailed(
                f"{where}.quantity must be a whole number from 0 to {MAX_QUANTITY}", field=f"{where}.quantity"
            )
        price = p.get("price")
        lines.append(
            Line(
                product_id=_text(p.get("product_id") or p.get("productId") or p.get("id")),
                sku=_text(p.get("sku")),
                name=_text(p.get("name"), 255),
                category=_text(p.get("category")),
                brand=_text(p.get("brand")),
                price_minor=None if price is None else to_minor(price, currency, f"{where}.price"),
                quantity=int(quantity),
            )
        )
    return lines


def parse(event: str, props: dict[str, Any], default_currency: str) -> CommerceAction | None:
    """The commerce meaning of a track event, or None when it has none. Raises ValidationFailed."""
    if event not in ORDER_EVENTS and event not in PRODUCT_EVENTS:
        return None
    currency = check_currency(props.get("currency") or default_currency, "properties.currency")
    if event in PRODUCT_EVENTS:
        line = _lines([props], currency)[0] if (props.get("product_id") or props.get("sku")) else None
        return CommerceAction("product", None, currency, lines=[line] if line else [])
    order_id = props.get("order_id", props.get("orderId"))
    if order_id is None or str(order_id).strip() == "" or isinstance(order_id, dict | list | bool):
        raise ValidationFailed(f"{event} needs properties.order_id", field="properties.order_id")
    if len(str(order_id)) > 128:
        raise ValidationFailed("order_id is longer than 128 characters", field="properties.order_id")
    lines = _lines(props.get("products"), currency)
    amounts: dict[str, int | None] = {}
    for name in ("total", "revenue", "subtotal", "discount", "shipping", "tax"):
        value = props.get(name)
        amounts[name] = None if value is None else to_minor(value, currency, f"properties.{name}")
    if event == "Order Completed":
        total = amounts["total"] if amounts["total"] is not None else amounts["revenue"]
        if total is None:
            total = sum((ln.price_minor or 0) * ln.quantity for ln in lines) if lines else None
        if total is None:
            raise ValidationFailed(
                "Order Completed needs properties.total, revenue or products with prices",
                field="properties.total",
            )
        if total < 0:
            raise ValidationFailed("properties.total must not be negative", field="properties.total")
        amounts["total"] = total
        kind = "completed"
    elif event == "Order Refunded":
        refund = amounts["total"] if amounts["total"] is not None else amounts["revenue"]
        if refund is None and lines:
            refund = sum((ln.price_minor or 0) * ln.quantity for ln in lines)
        if refund is not None and refund < 0:
            refund = -refund  # some shops send refunds as negative totals
        amounts["total"] = refund  # None = the whole order
        kind = "refunded"
    else:
        kind = "cancelled"
    return CommerceAction(kind, str(order_id).strip(), currency, amounts, _text(props.get("coupon")), lines)


@dataclass
class Pending:
    """One commerce action of a batch, with the customer and time of its message."""

    action: CommerceAction
    customer_id: int
    when: datetime
    props: dict[str, Any]


def apply_batch(session: Session, source_id: int, items: list[Pending]) -> set[int]:
    """Write a batch's commerce actions in message order with a few statements; returns the customers
    whose order figures may have changed (each order's owner)."""
    catalogue: dict[str, dict[str, Any]] = {}
    wanted = sorted({it.action.order_id for it in items if it.action.order_id is not None})
    orders: dict[str, Order] = {}
    if wanted:
        query = select(Order).where(Order.source_id == source_id, Order.external_id.in_(wanted))
        orders = {o.external_id: o for o in session.scalars(query)}
    new_lines: dict[str, list[Line]] = {}
    created: list[Order] = []  # new orders stay out of the session: inserted below in one statement
    owners: set[int] = set()
    for it in items:
        action = it.action
        if action.kind == "product" or action.order_id is None:
            _collect(catalogue, action.lines, action.currency, it.when)
            continue
        order = orders.get(action.order_id)
        if order is None:
            order = Order(
                customer_id=it.customer_id,
                source_id=source_id,
                external_id=action.order_id,
                status="pending",
                currency=action.currency,
                total_minor=0,
                refunded_minor=0,
                properties={},
            )
            created.append(order)
            orders[action.order_id] = order
        _apply_one(order, action, it.when, it.props)
        if action.kind == "completed":
            new_lines[action.order_id] = action.lines
            _collect(catalogue, action.lines, action.currency, it.when)
        owners.add(order.customer_id)
    session.flush()  # changes to stored orders
    _insert_orders(session, created)
    if new_lines:
        touched = [orders[oid] for oid in sorted(new_lines)]
        session.execute(delete(OrderLine).where(OrderLine.order_pk.in_([o.id for o in touched])))
        rows = [
            {"order_pk": o.id, "customer_id": o.customer_id, "position": i, **vars(line)}
            for o in touched
            for i, line in enumerate(new_lines[o.external_id])
        ]
        if rows:
            session.connection().execute(insert(OrderLine), rows)
    upsert_products(session, catalogue)
    return owners


ORDER_COLUMNS = (
    "customer_id", "source_id", "external_id", "status", "currency", "total_minor", "subtotal_minor",
    "discount_minor", "shipping_minor", "tax_minor", "refunded_minor", "coupon", "completed_at",
    "refunded_at", "properties",
)  # fmt: skip


def _insert_orders(session: Session, created: list[Order]) -> None:
    """Insert new orders with plain SQL and give the objects their ids (the ORM flush of a few new
    orders per batch cost more than the rest of the commerce writes)."""
    if not created:
        return
    kind = fastsql.dialect(session)
    rows = [
        (
            o.customer_id,
            o.source_id,
            o.external_id,
            o.status,
            o.currency,
            o.total_minor,
            o.subtotal_minor,
            o.discount_minor,
            o.shipping_minor,
            o.tax_minor,
            o.refunded_minor,
            o.coupon,
            fastsql.db_time(kind, o.completed_at),
            fastsql.db_time(kind, o.refunded_at),
            fastsql.db_json(o.properties),
        )
        for o in created
    ]
    ids = fastsql.insert_returning_ids(session, "orders", ORDER_COLUMNS, rows, json_columns=("properties",))
    for order, new_id in zip(created, ids, strict=True):
        order.id = new_id


def _apply_one(order: Order, action: CommerceAction, when: datetime, props: dict[str, Any]) -> None:
    if action.kind == "completed":
        if order.completed_at is None and order.status == "refunded":
            order.refunded_minor = int(action.amounts["total"] or 0)  # a full refund arrived first
        order.currency = action.currency
        order.total_minor = int(action.amounts["total"] or 0)
        order.subtotal_minor = action.amounts.get("subtotal")
        order.discount_minor = action.amounts.get("discount")
        order.shipping_minor = action.amounts.get("shipping")
        order.tax_minor = action.amounts.get("tax")
        order.coupon = action.coupon
        order.completed_at = when
        order.properties = {k: v for k, v in props.items() if k != "products"}
    elif action.kind == "refunded":
        amount = action.amounts.get("total")
        if amount is None:
            order.refunded_minor = order.total_minor
        else:
            order.refunded_minor = order.refunded_minor + amount
        order.refunded_at = when
    else:
        order.status = "cancelled"
    if order.status != "cancelled":
        if order.completed_at is None:
            whole = action.kind == "refunded" and action.amounts.get("total") is None
            order.status = "refunded" if whole or order.status == "refunded" else "pending"
        elif order.refunded_minor >= order.total_minor and order.refunded_minor > 0:
            order.status = "refunded"
        elif order.refunded_minor > 0:
            order.status = "partially_refunded"
        else:
            order.status = "completed"


def _collect(catalogue: dict[str, dict[str, Any]], lines: list[Line], currency: str, when: datetime) -> None:
    for line in lines:
        row = product_row(line, currency, when)
        if row is not None:
            previous = catalogue.get(row["product_id"])
            if previous is None or previous["updated_at"] <= when:
                catalogue[row["product_id"]] = row


def product_row(line: Line, currency: str, when: datetime) -> dict[str, Any] | None:
    key = line.product_id or line.sku
    if not key:
        return None
    return {
        "product_id": key,
        "sku": line.sku,
        "name": line.name,
        "category": line.category,
        "brand": line.brand,
        "price_minor": line.price_minor,
        "currency": currency,
        "updated_at": when,
    }


def _product_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, Product.__table__)
    col = Product.__table__.c
    ex = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[col.product_id],
        set_={
            "sku": func.coalesce(ex.sku, col.sku),
            "name": func.coalesce(ex.name, col.name),
            "category": func.coalesce(ex.category, col.category),
            "brand": func.coalesce(ex.brand, col.brand),
            "price_minor": func.coalesce(ex.price_minor, col.price_minor),
            "currency": ex.currency,
            "updated_at": ex.updated_at,
        },
    )


def upsert_products(session: Session, rows: dict[str, dict[str, Any]]) -> None:
    """Write the catalogue rows collected from one batch (one row per product, latest wins)."""
    if rows:
        ordered = [rows[k] for k in sorted(rows)]
        session.execute(cached_statement(session, "commerce.products", _product_upsert), ordered)
