"""Rows of the event log, orders and order lines of the bench brand, one slice of events at a time (orders
are written with the slice that holds their `Order Completed`). Properties are what the demo's messages
carry (Segment e-commerce spec); personal data is encrypted into `pii_enc`, as ingestion does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from siyu.bench.seg_events import (
    ADDED,
    COMPLETED,
    CONTACT,
    CONTACT_ADDED,
    IDENTIFY,
    JOIN,
    LEVEL,
    PAGE,
    REFUNDED_EVENT,
    SIGNED_UP,
    VIEWED,
)
from siyu.bench.seg_model import Brand
from siyu.bench.seg_orders import LEVELS, PRICE_FEN, STATUSES
from siyu.bench.seg_people import CHANNELS, CITIES, LIVE_CODES, SKIN_TYPES, STORE, STORES
from siyu.bench.seg_rows import IdBase, Row, money, times, unionid, wecom_id
from siyu.core.pii import Vault
from siyu.demo import catalog
from siyu.demo.seasons import FESTIVALS

LIBRARY = {"name": "siyu-bench", "version": "1"}
TYPES = ("identify", "track", "track", "screen", "page", "track", "track", "track", "track")
NAMES = (
    "",
    "Signed Up",
    "Contact Added",
    "首页",
    "",
    "Product Viewed",
    "Product Added",
    "Order Completed",
    "Order Refunded",
)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def product_props(index: int) -> dict[str, Any]:
    p = catalog.PRODUCTS[index]
    return {
        "product_id": p.product_id,
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "brand": catalog.BRAND,
        "price": money(int(PRICE_FEN[index])),
    }


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


VIEWED_PROPS = _objects([dumps(product_props(i)) for i in range(len(catalog.PRODUCTS))])
ADDED_PROPS = _objects([dumps({**product_props(i), "quantity": 1}) for i in range(len(catalog.PRODUCTS))])
SCREEN_PROPS = dumps({"path": "pages/index"})
PAGE_PROPS = _objects(
    [dumps({"path": f"/h5/campaign/{f.code}", "url": f"https://m.lanji.example/{f.code}"}) for f in FESTIVALS]
)
PAGE_NAMES = _objects([f.label for f in FESTIVALS])
SIGNED_UP_PROPS = _objects([dumps({"method": c}) for c in CHANNELS])
CONTEXTS = _objects(
    [
        dumps(
            {"library": LIBRARY, "app": {"name": "澜肌会员中心", "build": "3.2.1"}}
            if c == "miniprogram"
            else {"library": LIBRARY}
        )
        for c in CHANNELS
    ]
)
LEVEL_PROPS = _objects([dumps({"member_level": level}) for level in LEVELS])


@dataclass
class EventSlice:
    events: list[Row]
    orders: list[Row]
    lines: list[Row]


class EventRows:
    """Call `slice` with consecutive ranges of events, in order."""

    def __init__(
        self, brand: Brand, base: IdBase, sources: dict[str, int], vault: Vault, staff_ids: list[str]
    ):
        self.b, self.base, self.vault, self.staff_ids = brand, base, vault, staff_ids
        self.source_of = np.array([sources[c] for c in CHANNELS])
        self.next_order = 0

    def slice(self, lo: int, hi: int) -> EventSlice:
        e = self.b.events
        kind = e.kind[lo:hi]
        completed = np.flatnonzero(kind == COMPLETED)
        orders = e.order[lo:hi][completed]
        first, last = self.next_order, self.next_order + len(orders)
        if len(orders) and not np.array_equal(orders, np.arange(first, last)):
            raise AssertionError("Order Completed events must come in order id order")
        self.next_order = last
        props = [self._order_props(k) for k in range(first, last)]
        return EventSlice(self._events(lo, hi, props), self._orders(first, props), self._lines(first, last))

    def external_id(self, k: int) -> str:
        o, pk = self.b.orders, self.base.order + k
        channel = CHANNELS[o.channel[k]]
        if channel == "douyin":
            return f"69{pk:017d}"
        if channel == "tmall":
            return f"2{pk:017d}0"
        day = (
            self.b.cal.first_day.toordinal()
            + (int(o.at[k]) - int(self.b.cal.midnight_us[0])) // 86_400_000_000
        )
        stamp = _ordinal_text(day)
        if channel == "store":
            return f"POS{STORES[self.b.people.store[o.customer[k]]]}{stamp}{pk:08d}"
        return f"MP{stamp}{pk:010d}"

    def _order_props(self, k: int) -> dict[str, Any]:
        o = self.b.orders
        props: dict[str, Any] = {
            "order_id": self.external_id(k),
            "total": money(int(o.total[k])),
            "subtotal": money(int(o.subtotal[k])),
            "discount": money(int(o.discount[k])),
            "shipping": money(int(o.shipping[k])),
            "currency": catalog.CURRENCY,
            "channel": CHANNELS[o.channel[k]],
        }
        if o.festival[k] >= 0:
            f = FESTIVALS[o.festival[k]]
            props["coupon"], props["promotion"] = f"{f.code}-{_year(int(o.at[k]))}", f.label
        if o.channel[k] == STORE:
            props["store_id"] = STORES[self.b.people.store[o.customer[k]]]
        return props

    def lines_of(self, k: int) -> list[tuple[int, int]]:
        o = self.b.orders
        start, end = int(o.line_start[k]), int(o.line_start[k] + o.line_count[k])
        return list(zip(o.line_product[start:end].tolist(), o.line_quantity[start:end].tolist(), strict=True))

    def _orders(self, first: int, props: list[dict[str, Any]]) -> list[Row]:
        o, n = self.b.orders, len(props)
        ks = slice(first, first + n)
        done, refunded = times(o.at[ks]), times(o.refund_at[ks])
        cols = (
            (np.arange(first, first + n) + self.base.order).tolist(),
            (o.customer[ks] + self.base.customer).tolist(),
            self.source_of[o.channel[ks]].tolist(),
            [p["order_id"] for p in props],
            [STATUSES[s] for s in o.status[ks].tolist()],
            [catalog.CURRENCY] * n,
            o.total[ks].tolist(),
            o.subtotal[ks].tolist(),
            o.discount[ks].tolist(),
            o.shipping[ks].tolist(),
            [None] * n,
            o.refunded[ks].tolist(),
            [p.get("coupon") for p in props],
            done,
            refunded,
            [dumps(p) for p in props],
        )
        return list(zip(*cols, strict=True))

    def _lines(self, first: int, last: int) -> list[Row]:
        o = self.b.orders
        lo, hi = (
            int(o.line_start[first]) if last > first else 0,
            int(o.line_start[last - 1] + o.line_count[last - 1]) if last > first else 0,
        )
        order = np.repeat(np.arange(first, last), o.line_count[first:last])
        position = np.arange(lo, hi) - o.line_start[order]
        product = o.line_product[lo:hi]
        p = catalog.PRODUCTS
        return [
            (
                self.base.line + i,
                self.base.order + k,
                self.base.customer + c,
                pos,
                p[x].product_id,
                p[x].sku,
                p[x].name,
                p[x].category,
                catalog.BRAND,
                int(PRICE_FEN[x]),
                q,
            )
            for i, k, c, pos, x, q in zip(
                range(lo, hi),
                order.tolist(),
                o.customer[order].tolist(),
                position.tolist(),
                product.tolist(),
                o.line_quantity[lo:hi].tolist(),
                strict=True,
            )
        ]

    def _events(self, lo: int, hi: int, order_props: list[dict[str, Any]]) -> list[Row]:
        e, p = self.b.events, self.b.people
        n, kind, source = hi - lo, e.kind[lo:hi], e.source[lo:hi]
        customer, product, detail = e.customer[lo:hi], e.product[lo:hi], e.detail[lo:hi]
        at = e.at[lo:hi]
        devices, member_ids = self.b.strings.all_devices(), self.b.strings.all_member_ids()
        known = (at >= p.join_at[customer]) & p.member[customer]
        who = customer.tolist()
        user = [member_ids[i] if k else None for i, k in zip(who, known.tolist(), strict=True)]
        in_store = ((source == STORE) & known).tolist()
        anonymous = [None if s else devices[i] for i, s in zip(who, in_store, strict=True)]
        props = np.empty(n, dtype=object)
        names = _objects(list(NAMES))[kind]
        names[kind == IDENTIFY] = None
        for code, table, key in (
            (VIEWED, VIEWED_PROPS, product),
            (ADDED, ADDED_PROPS, product),
            (SIGNED_UP, SIGNED_UP_PROPS, source),
            (PAGE, PAGE_PROPS, detail),
        ):
            mask = kind == code
            props[mask] = table[key[mask]]
        pages = kind == PAGE
        names[pages] = PAGE_NAMES[detail[pages]]
        props[kind == 3] = SCREEN_PROPS
        secret = np.full(n, None, dtype=object)
        for j in np.flatnonzero(kind == CONTACT_ADDED).tolist():
            i = int(customer[j])
            props[j] = dumps(
                {
                    "advisor": self.staff_ids[p.advisor[i]],
                    "state": LIVE_CODES[p.live_code[i]],
                    "welcome_sent": True,
                }
            )
        first = self.next_order - len(order_props)
        for j in np.flatnonzero(kind == COMPLETED).tolist():
            k = int(e.order[lo + j])
            full = {
                **order_props[k - first],
                "products": [{**product_props(x), "quantity": q} for x, q in self.lines_of(k)],
            }
            props[j] = dumps(full)
        for j in np.flatnonzero(kind == REFUNDED_EVENT).tolist():
            props[j] = dumps(self._refund_props(int(e.order[lo + j])))
        for j in np.flatnonzero(kind == IDENTIFY).tolist():
            props[j], secret[j] = self._identify(int(customer[j]), int(detail[j]), int(e.order[lo + j]))
        ids = range(self.base.event + lo, self.base.event + hi)
        cols = (
            ids,
            (customer.astype(np.int64) + self.base.customer).tolist(),
            self.source_of[source].tolist(),
            [f"bench-{i:012d}" for i in ids],
            _objects(list(TYPES))[kind].tolist(),
            names.tolist(),
            user,
            anonymous,
            times(at),
            [None] * n,
            [None] * n,
            times(at + 800_000),
            props.tolist(),
            CONTEXTS[source].tolist(),
            secret.tolist(),
        )
        return list(zip(*cols, strict=True))

    def _refund_props(self, k: int) -> dict[str, Any]:
        o = self.b.orders
        props: dict[str, Any] = {
            "order_id": self.external_id(k),
            "currency": catalog.CURRENCY,
            "reason": "七天无理由退货",
        }
        if o.refund_line[k] >= 0:
            product, quantity = self.lines_of(k)[int(o.refund_line[k])]
            props["products"] = [{**product_props(product), "quantity": quantity}]
            props["total"] = money(int(PRICE_FEN[product]) * quantity)
        return props

    def _identify(self, i: int, detail: int, order: int) -> tuple[str, str | None]:
        """(public traits, encrypted personal ones) of an identify: the join, the WeCom add, a new level."""
        p, b, st = self.b.people, self.b, self.b.strings
        gender = "female" if p.female[i] else "male"
        if detail == LEVEL:
            return str(LEVEL_PROPS[b.orders.level_after[order]]), None
        if detail == JOIN:
            public: dict[str, Any] = {
                "member_id": st.member_id(i),
                "member_level": LEVELS[0],
                "gender": gender,
                "birthday": _ordinal_text(719_163 + int(p.birthday[i]), "-"),
                "city": CITIES[p.city[i]],
                "skin_type": SKIN_TYPES[p.skin[i]],
                "source_channel": CHANNELS[p.channel[i]],
            }
            personal: dict[str, Any] = {"name": st.name(i)}
            if p.phone[i]:
                personal["phone"] = st.phone(i)
            if p.email[i]:
                personal["email"] = st.email(i)
        else:
            assert detail == CONTACT
            public = {
                "wecom_external_userid": wecom_id(st.device(i)),
                "unionid": unionid(st.device(i)),
                "gender": gender,
                "live_code": LIVE_CODES[p.live_code[i]],
            }
            personal = {"name": st.name(i)}
            if p.phone[i] and p.shares_phone[i]:
                personal["phone"] = st.phone(i)
        return dumps(public), self.vault.encrypt_json({"properties": personal})


def _ordinal_text(ordinal: int, sep: str = "") -> str:
    from datetime import date

    return date.fromordinal(ordinal).strftime(f"%Y{sep}%m{sep}%d")


def _year(us: int) -> str:
    return str(np.datetime64(us, "us").astype("datetime64[Y]"))
