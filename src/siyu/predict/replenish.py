"""Replenishment dates from product consumption cycles: a customer who bought q units of a product with a
cycle of c days on day d runs out on d + c·q, and is reminded `remind_days` before.

A product's cycle is the operator's setting (by product id, else by category) or, failing that, estimated
from the data: each repeat buyer's median interval between consecutive purchases of the product, divided
by the units bought at the earlier purchase; the cycle is the median of those per-buyer values over at
least `min_buyers` repeat buyers (a median, so stockpilers and forgetters do not move it).
Days are whole-day numbers (e.g. days since 1970-01-01 in the brand's zone).
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
class Purchases:
    """One row per (customer, product, day) with the units bought that day; `product` codes index the
    caller's product list."""

    customer: IntArray
    product: IntArray
    day: IntArray
    quantity: IntArray

    def __post_init__(self) -> None:
        n = self.customer.shape[0]
        if any(a.shape[0] != n for a in (self.product, self.day, self.quantity)):
            raise ValidationFailed("purchase columns differ in length", field="purchases")
        if n and int(self.quantity.min()) < 1:
            raise ValidationFailed("quantities must be at least 1", field="quantity")


def _order(p: Purchases) -> IntArray:
    return np.lexsort((p.day, p.customer, p.product)).astype(np.int64)


def group_medians(group: IntArray, values: Vector) -> tuple[IntArray, Vector, IntArray]:
    """(groups, median of each, size of each) for values labelled by `group`, without a Python loop."""
    if group.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    keys, start, count = np.unique(g, return_index=True, return_counts=True)
    median = (v[start + (count - 1) // 2] + v[start + count // 2]) / 2
    return keys.astype(np.int64), median, count.astype(np.int64)


def estimate_cycles(p: Purchases, products: int, *, min_buyers: int = 5) -> tuple[Vector, IntArray]:
    """Per product: the estimated cycle in days per unit (NaN with fewer than `min_buyers` repeat
    buyers) and the number of repeat buyers it rests on."""
    cycles = np.full(products, np.nan)
    buyers = np.zeros(products, dtype=np.int64)
    o = _order(p)
    prod, cust, day, qty = p.product[o], p.customer[o], p.day[o], p.quantity[o]
    same = (prod[1:] == prod[:-1]) & (cust[1:] == cust[:-1])
    if not same.any():
        return cycles, buyers
    per_unit = (day[1:] - day[:-1])[same] / qty[:-1][same]
    pair_product, pair_customer = prod[1:][same], cust[1:][same]
    # one key per (product, customer): their median interval, then the median over customers
    _, pair_key = np.unique(np.stack([pair_product, pair_customer]), axis=1, return_inverse=True)
    pair_key = pair_key.reshape(-1).astype(np.int64)
    keys, per_buyer, _ = group_medians(pair_key, per_unit.astype(np.float64))
    buyer_product = np.zeros(keys.shape[0], dtype=np.int64)
    buyer_product[pair_key] = pair_product
    found, median, count = group_medians(buyer_product, per_buyer)
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


def due_dates(p: Purchases, cycles: Vector, *, today: int, remind_days: int = 15) -> Due:
    """Each customer's replenish day: last purchase day + cycle × units bought that day, per product with
    a cycle; the earliest one still ahead (≥ today), else the latest one already passed."""
    if remind_days < 0:
        raise ValidationFailed("remind_days must not be negative", field="remind_days")
    o = _order(p)
    prod, cust, day, qty = p.product[o], p.customer[o], p.day[o], p.quantity[o]
    last = np.ones(prod.shape[0], dtype=np.bool_)  # the last row of each (product, customer)
    last[:-1] = (prod[1:] != prod[:-1]) | (cust[1:] != cust[:-1])
    cycle = cycles[prod[last]]
    known = np.isfinite(cycle) & (cycle > 0)
    cust, prod = cust[last][known], prod[last][known]
    due = day[last][known] + np.rint(cycle[known] * qty[last][known]).astype(np.int64)
    ahead = due >= today
    # rank: ahead first, nearest first; passed after, most recent first
    rank = np.where(ahead, due - today, np.iinfo(np.int64).max // 2 + (today - due))
    pick = np.lexsort((rank, cust))
    first = np.ones(pick.shape[0], dtype=np.bool_)
    first[1:] = cust[pick][1:] != cust[pick][:-1]
    chosen = pick[first]
    return Due(cust[chosen], prod[chosen], due[chosen], due[chosen] - remind_days)
