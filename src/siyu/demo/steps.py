"""What can happen to a demo customer: the dated steps `lifecycle` plans and `messages` renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from siyu.demo.catalog import Product
from siyu.demo.seasons import Promotion


@dataclass(frozen=True)
class Browse:
    """A mini-program session: home screen, products viewed, some added to the cart."""

    at: datetime
    viewed: tuple[Product, ...]
    added: tuple[Product, ...] = ()
    campaign: Promotion | None = None  # opened the festival landing page first


@dataclass(frozen=True)
class Join:
    """Became a member (store counter, mini-program login, Tmall membership)."""

    at: datetime
    channel: str


@dataclass(frozen=True)
class AddContact:
    """Added a WeCom advisor via a live code."""

    at: datetime
    advisor: str  # the advisor's WeCom userid
    state: str  # the live code scanned (WeCom `state`), e.g. `douyin-0618`, `store-sh-01`
    shares_phone: bool


@dataclass(frozen=True)
class Purchase:
    """An order on one channel (at one store for the POS)."""

    at: datetime
    channel: str
    lines: tuple[tuple[Product, int], ...]
    promotion: Promotion | None
    store: str | None
    number: int  # 0 for the first order of the customer


@dataclass(frozen=True)
class Refund:
    """A refund of a whole order or of one of its lines, a few days after it."""

    at: datetime
    purchase: Purchase
    line: int | None  # index of the one refunded line; None = the whole order


Step = Browse | Join | AddContact | Purchase | Refund
