"""What replenishment reads from order lines, set-based: the products (with a category) and, in one
grouped query over counted orders, each customer's history of each product (first and last purchase
day, purchase days, units in all and on the last day).

A product is its `product_id`, else its `sku`; lines with neither are left out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from siyu.commerce.tables import Order, OrderLine
from siyu.predict.features import counted, purchase_day
from siyu.predict.replenish import ProductHistory

UNIT_BITS = 20  # the last day's units (clamped to 1..2^20-1) packed under its day number


@dataclass(frozen=True)
class Catalogue:
    products: list[str]
    categories: list[str | None]

    def codes(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.products)}


def _key() -> Any:
    line = OrderLine.__table__.c
    return func.coalesce(line.product_id, line.sku)


def catalogue(session: Session) -> Catalogue:
    """Every product on an order line, sorted, with a category seen on its lines (one scan)."""
    line = OrderLine.__table__.c
    key = _key()
    query = select(key, func.max(line.category)).where(key.is_not(None)).group_by(key).order_by(key)
    rows = session.execute(query).all()
    return Catalogue([str(r[0]) for r in rows], [r[1] for r in rows])


def product_history(session: Session, as_of: datetime, codes: dict[str, int]) -> ProductHistory:
    """One row per (customer, product) bought in counted orders by `as_of`."""
    day = purchase_day(session, as_of)
    empty = np.zeros(0, dtype=np.int64)
    if day is None:
        return ProductHistory(*(empty for _ in range(7)))
    line, o = OrderLine.__table__.c, Order.__table__.c
    key = _key()
    daily = (
        select(
            line.customer_id.label("cid"),
            key.label("product"),
            day.label("day"),
            func.sum(case((line.quantity > 0, line.quantity), else_=1)).label("q"),
        )
        .join_from(OrderLine.__table__, Order.__table__, o.id == line.order_pk)
        .where(counted(as_of), key.is_not(None))
        .group_by(line.customer_id, key, day)
        .subquery("product_days")
    )
    top = (1 << UNIT_BITS) - 1
    day_bits = cast(daily.c.day, BigInteger) * literal_column(str(1 << UNIT_BITS))
    packed = day_bits + case((daily.c.q > top, top), else_=daily.c.q)
    query = select(
        daily.c.product,
        daily.c.cid,
        func.min(daily.c.day),
        func.count(),
        func.sum(daily.c.q),
        func.max(packed),
    ).group_by(daily.c.product, daily.c.cid)
    rows = session.execute(query).all()
    product = np.fromiter((codes[r[0]] for r in rows), dtype=np.int64, count=len(rows))
    rest = np.fromiter(itertools.chain.from_iterable(r[1:] for r in rows), dtype=np.int64).reshape(-1, 5)
    last_day, last_units = rest[:, 4] >> UNIT_BITS, rest[:, 4] & top
    return ProductHistory(rest[:, 0], product, rest[:, 1], last_day, rest[:, 2], rest[:, 3], last_units)
