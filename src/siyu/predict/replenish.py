"""Replenishment dates from product consumption cycles: a customer who bought q units of a product with a
cycle of c days on day d runs out on d + c·q, and is reminded `remind_days` before.

A product's cycle is the operator's setting (by product id, else by category) or, failing that, estimated
from the orders: each repeat buyer's days per unit, (last purchase day - first) / units bought before the
last purchase (their unit-weighted mean interval), and the cycle is the median of those over at least
`min_buyers` repeat buyers (a median, so stockpilers and forgetters do not move it).
Works on one row per (customer, product), which SQL can aggregate in one pass; days are whole-day
numbers (e.g. days since 1970-01-01 in the brand's zone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from siyu.core.errors import ValidationFailed
from siyu.predict.data import Vector

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ProductHistory:
    """One row per (customer, product): first and last purchase day, purchase days, units in all and on
    the last day. `product` codes index the caller's product list."""

    customer: IntArray
    product: IntArray
    first_day: IntArray
    last_day: IntArray
    days: IntArray
    units: IntArray
    last_units: IntArray

    def __post_init__(self) -> None:
        n = self.customer.shape[0]
        columns = (self.product, self.first_day, self.last_day, self.days, self.units, self.last_units)
        if any(a.shape[0] != n for a in columns):
            raise ValidationFailed("purchase columns differ in length", field="purchases")
        if n and (int(self.last_units.min()) < 1 or np.any(self.units < self.last_units)):
            raise ValidationFailed("units must be at least 1 and include the last day's", field="quantity")


def product_history(
    customer: IntArray, product: IntArray, day: IntArray, quantity: IntArray
) -> ProductHistory:
    """Per-day rows (customer, product, day, units; one per day) aggregated per (customer, product)."""
    order = np.lexsort((day, customer, product))
    c, p, d, q = customer[order], product[order], day[order], np.maximum(quantity[order], 1)
    start = np.ones(c.shape[0], dtype=np.bool_)
    start[1:] = (p[1:] != p[:-1]) | (c[1:] != c[:-1])
    first = np.flatnonzero(start)
    last = np.append(first[1:], c.shape[0]) - 1
    return ProductHistory(
        c[first], p[first], d[first], d[last], np.diff(np.append(first, c.shape[0])),
        np.add.reduceat(q, first) if first.shape[0] else q[:0], q[last],
    )  # fmt: skip


def group_medians(group: IntArray, values: Vector) -> tuple[IntArray, Vector, IntArray]:
    """(groups, median of each, size of each) for values labelled by `group`, without a Python loop."""
    if group.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    keys, start, count = np.unique(g, return_index=True, return_counts=True)
    median = (v[start + (count - 1) // 2] + v[start + count // 2]) / 2
    return keys.astype(np.int64), median, count.astype(np.int64)


def estimate_cycles(h: ProductHistory, products: int, *, min_buyers: int = 5) -> tuple[Vector, IntArray]:
    """Per product: the estimated cycle in days per unit (NaN with fewer than `min_buyers` repeat
    buyers) and the number of repeat buyers it rests on."""
    cycles = np.full(products, np.nan)
    buyers = np.zeros(products, dtype=np.int64)
    before_last = h.units - h.last_units
    repeat = (h.days >= 2) & (before_last > 0)
    if not repeat.any():
        return cycles, buyers
    per_unit = (h.last_day - h.first_day)[repeat] / before_last[repeat]
    found, median, count = group_medians(h.product[repeat], per_unit.astype(np.float64))
    buyers[found] = count
    enough = count >= min_buyers
    cycles[found[enough]] = median[enough]
    return cycles, buyers


def resolve_cycles(
    products: Sequence[str],
    categories: Sequence[str | None],
    estimated: Vector,
    *,
    by_product: Mapping[str, float],
    by_category: Mapping[str, float],
) -> tuple[Vector, list[str | None]]:
    """Cycle days per product and where each came from ('product', 'category', 'estimated' or None):
    the setting for the product id wins, then the one for its category, then the estimate."""
    cycles = np.full(len(products), np.nan)
    origin: list[str | None] = [None] * len(products)
    for i, (product, category) in enumerate(zip(products, categories, strict=True)):
        if product in by_product:
            cycles[i], origin[i] = float(by_product[product]), "product"
        elif category is not None and category in by_category:
            cycles[i], origin[i] = float(by_category[category]), "category"
        elif np.isfinite(estimated[i]) and estimated[i] > 0:
            cycles[i], origin[i] = float(estimated[i]), "estimated"
    return cycles, origin


@dataclass(frozen=True)
class Due:
    """One row per customer: the product whose replenish day matters now, that day and the remind day."""

    customer: IntArray
    product: IntArray
    due_day: IntArray
    remind_day: IntArray


def due_dates(h: ProductHistory, cycles: Vector, *, today: int, remind_days: int = 15) -> Due:
    """Each customer's replenish day: last purchase day + cycle × units bought that day, per product with
    a cycle; the earliest one still ahead (≥ today), else the latest one already passed."""
    if remind_days < 0:
        raise ValidationFailed("remind_days must not be negative", field="remind_days")
    cycle = cycles[h.product] if h.product.shape[0] else np.zeros(0)
    known = np.isfinite(cycle) & (cycle > 0)
    cust, prod = h.customer[known], h.product[known]
    due = h.last_day[known] + np.rint(cycle[known] * h.last_units[known]).astype(np.int64)
    ahead = due >= today
    # rank: ahead first, nearest first; passed after, most recent first
    rank = np.where(ahead, due - today, np.iinfo(np.int64).max // 2 + (today - due))
    pick = np.lexsort((rank, cust))
    first = np.ones(pick.shape[0], dtype=np.bool_)
    first[1:] = cust[pick][1:] != cust[pick][:-1]
    chosen = pick[first]
    return Due(cust[chosen], prod[chosen], due[chosen], due[chosen] - remind_days)
