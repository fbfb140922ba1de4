"""Turns one customer's `Plan` into Segment tracking messages, as each channel would send them.

Each channel knows a customer by its own id (Douyin and Tmall buyer ids, the mini-program's device id before
login, the WeCom external user id, the member id at the store counter) plus what it has been told (phone,
unionid); the identity graph has to put them together. Message ids are stable: uuid5 of (seed, customer, n).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from siyu.demo import catalog
from siyu.demo.lifecycle import Plan
from siyu.demo.people import Person, phone_as_typed, stable_digits
from siyu.demo.seasons import festival_discount
from siyu.demo.steps import AddContact, Browse, Join, Purchase, Refund, Step

NAMESPACE = uuid.UUID("5b1c0e9e-6a51-4f3e-9d4e-2f1a7c3b8d10")
LIBRARY = {"name": "siyu-demo", "version": "1"}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DemoMessage:
    channel: str  # catalog channel code: which source sends it
    customer: int  # the generated customer's number (not sent; for tests and summaries)
    at: datetime
    payload: dict[str, Any]


def uuid5(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))`, without building UUID objects (one per demo message)."""
    raw = bytearray(hashlib.sha1(NAMESPACE.bytes + name.encode(), usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


class Renderer:
    """Renders the steps of one customer in time order, remembering what each channel has learnt."""

    def __init__(self, rng: random.Random, seed: int, person: Person, plan: Plan) -> None:
        self.rng, self.seed, self.person, self.plan = rng, seed, person, plan
        self.out: list[DemoMessage] = []
        self.members: set[str] = set()  # channels that know the member id
        self.level: str | None = None
        self.spent = Decimal("0")
        self.douyin_phone = person.phone is not None and rng.random() < 0.8  # else a privacy number
        self.orders: dict[int, tuple[str, Decimal]] = {}  # purchase number → (order id, total)
        self.anonymous = {  # how each channel knows the customer before it knows the member id
            "douyin": person.douyin_id,
            "tmall": person.tmall_id,
            "store": f"pos-{person.device_id[:8]}",  # the counter signs members up before the first sale
            "miniprogram": person.device_id,
            "wecom": person.wecom_external_userid,
        }

    # -- identities ----------------------------------------------------------------------------
    def _ids(self, channel: str) -> dict[str, Any]:
        member = self.person.member_id if channel in self.members else None
        if member is None:
            return {"anonymousId": self.anonymous[channel]}
        if channel == "store":
            return {"userId": member}
        return {"anonymousId": self.anonymous[channel], "userId": member}

    def _context(self, channel: str) -> dict[str, Any]:
        context: dict[str, Any] = {"library": LIBRARY}
        if channel == "douyin" and self.douyin_phone and self.person.phone:
            context["traits"] = {"phone": phone_as_typed(self.rng, self.person.phone)}
        elif channel == "miniprogram":
            context["app"] = {"name": "澜肌会员中心", "build": "3.2.1"}
        return context

    def _emit(self, channel: str, at: datetime, body: dict[str, Any]) -> None:
        n = len(self.out)
        message_id = uuid5(f"{self.seed}/{self.person.number}/{n}")
        payload = {
            "messageId": message_id,
            "timestamp": iso(at),
            **self._ids(channel),
            **body,
        }
        payload.setdefault("context", self._context(channel))
        self.out.append(DemoMessage(channel, self.person.number, at, payload))

    # -- steps ---------------------------------------------------------------------------------
    def render(self) -> list[DemoMessage]:
        for step in self.plan.steps:
            self._step(step)
        return self.out

    def _step(self, step: Step) -> None:
        if isinstance(step, Browse):
            self._browse(step)
        elif isinstance(step, Join):
            self._join(step)
        elif isinstance(step, AddContact):
            self._add_contact(step)
        elif isinstance(step, Purchase):
            self._purchase(step)
        else:
            self._refund(step)

    def _profile_traits(self) -> dict[str, Any]:
        p = self.person
        traits: dict[str, Any] = {
            "name": p.name,
            "gender": p.gender,
            "birthday": p.birthday.isoformat(),
            "city": p.city,
            "skin_type": p.skin_type,
            "source_channel": self.plan.first_channel,
        }
        if p.email:
            traits["email"] = p.email
        return traits

    def _join(self, step: Join) -> None:
        p = self.person
        self.members.add(step.channel)
        self.level = self.level or catalog.member_level(self.spent)
        traits: dict[str, Any] = {"member_id": p.member_id, "member_level": self.level}
        if p.phone:
            traits["phone"] = phone_as_typed(self.rng, p.phone)
        if step.channel == "tmall":  # 会员通: Tmall passes the phone and the member id, little else
            traits["source_channel"] = self.plan.first_channel
        else:
            traits.update(self._profile_traits())
        if step.channel == "miniprogram":
            traits.update(unionid=p.unionid, openid=p.openid)
        self._emit(step.channel, step.at, {"type": "identify", "traits": traits})
        self._emit(
            step.channel,
            step.at,
            {"type": "track", "event": "Signed Up", "properties": {"method": step.channel}},
        )

    def _add_contact(self, step: AddContact) -> None:
        p = self.person
        traits: dict[str, Any] = {
            "wecom_external_userid": p.wecom_external_userid,
            "unionid": p.unionid,
            "name": p.name,
            "gender": p.gender,
            "live_code": step.state,
        }
        if step.shares_phone and p.phone:
            traits["phone"] = phone_as_typed(self.rng, p.phone)
        self._emit("wecom", step.at, {"type": "identify", "traits": traits})
        props = {"advisor": step.advisor, "state": step.state, "welcome_sent": True}
        self._emit("wecom", step.at, {"type": "track", "event": "Contact Added", "properties": props})

    def _browse(self, step: Browse) -> None:
        p, at = self.person, step.at
        if step.campaign is not None:
            f = step.campaign.festival
            landing = {"path": f"/h5/campaign/{f.code}", "url": f"https://m.lanji.example/{f.code}"}
            self._emit("miniprogram", at, {"type": "page", "name": f.label, "properties": landing})
        home: dict[str, Any] = {"type": "screen", "name": "首页", "properties": {"path": "pages/index"}}
        # wx.login at the start of a session gives the openid (and unionid) without asking the user
        home["context"] = {
            **self._context("miniprogram"),
            "traits": {"openid": p.openid, "unionid": p.unionid},
        }
        self._emit("miniprogram", at, home)
        for product in step.viewed:
            at = at.replace(microsecond=0) + _seconds(self.rng, 20, 90)
            viewed = {"type": "track", "event": "Product Viewed", "properties": _product(product)}
            self._emit("miniprogram", at, viewed)
            if product in step.added:
                line = {**_product(product), "quantity": 1}
                added = {"type": "track", "event": "Product Added", "properties": line}
                self._emit("miniprogram", at + _seconds(self.rng, 5, 30), added)

    def _order_id(self, step: Purchase) -> str:
        key = f"order/{step.number}"
        digits = stable_digits(self.seed, self.person.number, key, 17)
        day = step.at.strftime("%Y%m%d")
        return {
            "douyin": f"69{digits}",
            "tmall": f"2{digits}0",
            "store": f"POS{step.store}{day}{digits[:6]}",
            "miniprogram": f"MP{day}{digits[:10]}",
        }[step.channel]

    def _purchase(self, step: Purchase) -> None:
        subtotal = sum((product.price * qty for product, qty in step.lines), Decimal("0"))
        discount = festival_discount(step.promotion, subtotal)
        if step.promotion is None and step.channel == "douyin":
            discount = (subtotal * Decimal("0.15")).quantize(CENT)  # 直播间价
        elif step.promotion is None and self.level in ("金卡", "黑金卡"):
            discount = (subtotal * Decimal("0.05")).quantize(CENT)  # member price
        shipping = Decimal("10.00") if step.channel == "miniprogram" and subtotal < 99 else Decimal("0")
        total = subtotal - discount + shipping
        order_id = self._order_id(step)
        self.orders[step.number] = (order_id, total)
        props: dict[str, Any] = {
            "order_id": order_id,
            "total": money(total),
            "subtotal": money(subtotal),
            "discount": money(discount),
            "shipping": money(shipping),
            "currency": catalog.CURRENCY,
            "channel": step.channel,
            "products": [{**_product(product), "quantity": qty} for product, qty in step.lines],
        }
        if step.promotion is not None:
            props["coupon"] = f"{step.promotion.festival.code}-{step.promotion.first.year}"
            props["promotion"] = step.promotion.festival.label
        if step.store:
            props["store_id"] = step.store
        self._emit(step.channel, step.at, {"type": "track", "event": "Order Completed", "properties": props})
        self.spent += total
        level = catalog.member_level(self.spent)
        if self.members and level != self.level:
            self.level = level
            channel = step.channel if step.channel in self.members else sorted(self.members)[0]
            at = step.at + _seconds(self.rng, 1, 5)
            self._emit(channel, at, {"type": "identify", "traits": {"member_level": level}})

    def _refund(self, step: Refund) -> None:
        order = step.purchase
        if order.number not in self.orders:
            return
        order_id, total = self.orders[order.number]
        props: dict[str, Any] = {
            "order_id": order_id,
            "currency": catalog.CURRENCY,
            "reason": "七天无理由退货",
        }
        if step.line is not None:
            product, qty = order.lines[step.line]
            props["products"] = [{**_product(product), "quantity": qty}]
            props["total"] = money(product.price * qty)
            self.spent -= product.price * qty
        else:
            self.spent -= total
        self._emit(order.channel, step.at, {"type": "track", "event": "Order Refunded", "properties": props})


def _product(product: catalog.Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "brand": catalog.BRAND,
        "price": money(product.price),
    }


def _seconds(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(seconds=rng.randrange(low, high))


def render(rng: random.Random, seed: int, person: Person, plan: Plan) -> list[DemoMessage]:
    return Renderer(rng, seed, person, plan).render()
