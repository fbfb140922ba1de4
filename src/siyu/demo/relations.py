"""The CRM facts beside the tracked messages, as a pure plan from the generated customers and the seed:
each WeCom friend's owner, marketing consents, and interests advisors noted; customers named by identity.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from siyu.demo.generator import DemoCustomer
from siyu.demo.messages import DemoMessage

Identity = tuple[str, str]  # (type, value) as the identity graph stores it


@dataclass(frozen=True)
class Ownership:
    identity: Identity
    advisor: str  # WeCom userid
    at: datetime


@dataclass(frozen=True)
class ConsentChoice:
    identity: Identity
    channel: str  # wecom | sms | any
    status: str  # granted | unsubscribed
    at: datetime
    origin: str


@dataclass(frozen=True)
class Interest:
    identity: Identity
    tag: str  # a tag of the static group `INTEREST_GROUP`
    advisor: str  # who noted it


@dataclass
class Relations:
    owners: list[Ownership] = field(default_factory=list)
    consents: list[ConsentChoice] = field(default_factory=list)
    interests: list[Interest] = field(default_factory=list)


WECOM_GRANTED = "添加企业微信好友时同意《会员隐私政策》"
WECOM_UNSUBSCRIBED = "企业微信回复“退订”"
SMS_GRANTED = "入会时勾选“接收会员短信优惠”"
SMS_UNSUBSCRIBED = "短信回复 TD 退订"
ALL_UNSUBSCRIBED = "客服登记：不再接收任何营销信息"

# Interest tag → (product ids or skin types that make an advisor note it, chance with / without a sign).
INTERESTS: dict[str, tuple[frozenset[str], float, float]] = {
    "抗老紧致": (frozenset({"LJ-SER-BOS30", "LJ-CRM-RET50"}), 0.55, 0.06),
    "敏感肌修护": (frozenset({"敏感肌", "LJ-SER-CEN30", "LJ-MSK-SOO5"}), 0.55, 0.05),
    "控油清爽": (frozenset({"油性", "LJ-CLN-OIL100"}), 0.5, 0.05),
    "防晒需求": (frozenset({"LJ-SUN-SPF50"}), 0.5, 0.04),
    "成分党": (frozenset(), 0.0, 0.12),
}


def _events(c: DemoCustomer, name: str) -> list[DemoMessage]:
    return [m for m in c.messages if m.payload.get("event") == name]


def _signs(c: DemoCustomer) -> set[str]:
    """Products the customer looked at or bought, and their skin type."""
    signs = {c.person.skin_type}
    for m in c.messages:
        props = m.payload.get("properties") or {}
        if "product_id" in props:
            signs.add(str(props["product_id"]))
        signs.update(str(p["product_id"]) for p in props.get("products", ()))
    return signs


def _phone_known(c: DemoCustomer) -> bool:
    for m in c.messages:
        for traits in (m.payload.get("traits"), (m.payload.get("context") or {}).get("traits")):
            if isinstance(traits, dict) and "phone" in traits:
                return True
    return False


def _later(rng: random.Random, at: datetime, end: datetime, days: int) -> datetime:
    """A moment 1 hour to `days` days after `at`, before `end`."""
    return max(at, min(at + timedelta(hours=rng.randrange(1, days * 24)), end - timedelta(minutes=1)))


def plan_customer(c: DemoCustomer, seed: int, end: datetime) -> Relations:
    """One customer's owner, consents and noted interests (drawn from its own random stream)."""
    rng = random.Random(f"lanji/{seed}/{c.person.number}/crm")  # noqa: S311 (simulation)
    out = Relations()
    contacts, joins = _events(c, "Contact Added"), _events(c, "Signed Up")
    wecom: Identity | None = None
    if contacts:
        contact = contacts[-1]
        wecom = ("wecom_external_userid", c.person.wecom_external_userid)
        advisor = str(contact.payload["properties"]["advisor"])
        out.owners.append(Ownership(wecom, advisor, contact.at))
        if rng.random() < 0.95:
            out.consents.append(ConsentChoice(wecom, "wecom", "granted", contact.at, WECOM_GRANTED))
        else:
            at = _later(rng, contact.at, end, 90)
            out.consents.append(ConsentChoice(wecom, "wecom", "unsubscribed", at, WECOM_UNSUBSCRIBED))
        signs = _signs(c)
        for tag, (wanted, with_sign, without) in INTERESTS.items():
            if rng.random() < (with_sign if signs & wanted else without):
                out.interests.append(Interest(wecom, tag, advisor))
    phone: Identity | None = None
    if c.person.phone and _phone_known(c):
        phone = ("phone", c.person.phone)
        if joins:
            draw = rng.random()
            if draw < 0.88:
                out.consents.append(ConsentChoice(phone, "sms", "granted", joins[0].at, SMS_GRANTED))
            elif draw < 0.95:
                at = _later(rng, joins[0].at, end, 120)
                out.consents.append(ConsentChoice(phone, "sms", "unsubscribed", at, SMS_UNSUBSCRIBED))
    known = wecom or phone
    if known is not None and rng.random() < 0.02:
        first = min(m.at for m in c.messages)
        out.consents.append(
            ConsentChoice(known, "any", "unsubscribed", _later(rng, first, end, 180), ALL_UNSUBSCRIBED)
        )
    return out


def plan(population: Iterable[DemoCustomer], seed: int, end: datetime) -> Relations:
    """Every customer's relations; `end` is the end of the history (nothing is dated after it)."""
    out = Relations()
    for c in population:
        one = plan_customer(c, seed, end)
        out.owners += one.owners
        out.consents += one.consents
        out.interests += one.interests
    return out
