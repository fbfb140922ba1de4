"""What happens to one demo customer over the history: a pure simulation of personas, first purchases,
replenishment when a product runs out, festival stock-ups, moving into the private domain, and churn.

`plan_customer(rng, calendar)` returns dated `Step`s; `messages.render` turns them into tracking messages.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from siyu.demo import catalog, team
from siyu.demo.catalog import Product
from siyu.demo.people import weighted
from siyu.demo.seasons import Calendar
from siyu.demo.steps import AddContact, Browse, Join, Purchase, Refund, Step


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    buys: bool
    repeat: float  # chance that a product running out is bought again
    lifetime_days: float  # mean of the exponential span in which the customer stays active
    private_domain: float  # chance a buyer adds a WeCom advisor after buying (parcel card, store)
    festival_extra: float  # chance of an extra stock-up order in a festival while active


PERSONAS: tuple[Persona, ...] = (
    Persona("prospect", 0.30, False, 0.0, 40, 0.0, 0.0),
    Persona("one_time", 0.30, True, 0.0, 45, 0.25, 0.0),
    Persona("repeat", 0.28, True, 0.62, 320, 0.5, 0.25),
    Persona("loyal", 0.12, True, 0.9, 1500, 0.8, 0.55),
)
BY_NAME = {p.name: p for p in PERSONAS}


@dataclass
class Plan:
    persona: Persona
    first_channel: str
    acquired: date
    active_until: date
    steps: list[Step] = field(default_factory=list)


REFUND_RATE = 0.03
REPLENISH_WINDOW = 14  # products due within this many days are bought together


def _pick_persona(rng: random.Random) -> Persona:
    return rng.choices(PERSONAS, weights=[p.share for p in PERSONAS])[0]


def _product(rng: random.Random, category: str, day: date) -> Product:
    if category == "防晒" and not Calendar.sunscreen_season(day):
        category = "面膜"
    return rng.choice(catalog.in_category(category))


def _first_basket(rng: random.Random, channel: str, day: date) -> list[tuple[Product, int]]:
    first = _product(rng, weighted(rng, catalog.FIRST_BASKET[channel]), day)
    lines = [(first, 1)]
    if first.category != "体验装" and rng.random() < 0.35:
        extra = _product(rng, rng.choice(catalog.CATEGORIES), day)
        if extra != first:
            lines.append((extra, 1))
    return lines


class _Simulation:
    def __init__(self, rng: random.Random, cal: Calendar, plan: Plan, store: str) -> None:
        self.rng, self.cal, self.plan, self.store = rng, cal, plan, store
        self.due: dict[str, tuple[date, Product]] = {}
        self.owned: set[str] = set()
        self.purchases = 0
        self.in_mini_program = False

    def add(self, step: Step) -> None:
        if self.cal.in_history(step.at):
            self.plan.steps.append(step)

    def buy(
        self, day: date, channel: str, lines: list[tuple[Product, int]], at: datetime | None = None
    ) -> None:
        rng, cal = self.rng, self.cal
        promo = cal.promotion_on(day)
        at = at or cal.moment(rng, day, store=channel == "store")
        if channel == "miniprogram":
            viewed = tuple(p for p, _ in lines) + tuple(rng.sample(catalog.PRODUCTS, rng.randrange(3)))
            self.add(
                Browse(
                    at - timedelta(minutes=rng.randrange(3, 40)), viewed, tuple(p for p, _ in lines), promo
                )
            )
        purchase = Purchase(
            at, channel, tuple(lines), promo, self.store if channel == "store" else None, self.purchases
        )
        self.add(purchase)
        self.purchases += 1
        if rng.random() < REFUND_RATE:
            line = None if len(lines) == 1 or rng.random() < 0.7 else rng.randrange(len(lines))
            self.add(
                Refund(at + timedelta(days=rng.randrange(2, 12), hours=rng.randrange(24)), purchase, line)
            )
        for product, qty in lines:
            self.owned.add(product.category)
            if product.cycle_days is not None:
                stretch = math.exp(rng.gauss(0.1, 0.2))  # people rarely finish a jar exactly on time
                self.due[product.product_id] = (
                    day + timedelta(days=round(product.cycle_days * qty * stretch)),
                    product,
                )

    def channel_for_repeat(self) -> str:
        first = self.plan.first_channel
        if self.in_mini_program and self.rng.random() < 0.55:
            return "miniprogram"
        if first == "store" and self.rng.random() < 0.7:
            return "store"
        return first if self.rng.random() < 0.8 else self.rng.choice(("tmall", "douyin"))

    def next_order_day(self, due: date) -> tuple[date, bool]:
        """Festivals pull purchases forward or make people wait: (day to buy, stocking up?)."""
        promo = self.cal.next_promotion(due)
        current = self.cal.promotion_on(due)
        if current is not None:
            return due, True
        if promo is not None and (promo.first - due).days <= 21 and self.rng.random() < 0.6:
            span = (promo.last - promo.first).days
            return promo.last - timedelta(days=min(span, int(self.rng.expovariate(1 / 3)))), True
        return due, False


def _prospect(sim: _Simulation, rng: random.Random, cal: Calendar, plan: Plan) -> None:
    day = plan.acquired
    if plan.first_channel == "wecom" or (plan.first_channel == "douyin" and rng.random() < 0.5):
        at = cal.moment(rng, day)
        code = team.douyin_code(cal.promotion_on(day))
        sim.add(AddContact(at, team.assign(rng, code), code, rng.random() < 0.3))
    registered = rng.random() < 0.2
    for visit in range(1 + min(6, int(rng.expovariate(0.6)))):
        if visit:
            day = day + timedelta(days=rng.randrange(1, 21))
        if day > plan.active_until:
            break
        at = cal.moment(rng, day)
        viewed = tuple(rng.sample(catalog.PRODUCTS, 1 + rng.randrange(3)))
        added = viewed[:1] if rng.random() < 0.25 else ()
        sim.add(Browse(at, viewed, added, cal.promotion_on(day) if rng.random() < 0.5 else None))
        if registered and visit == 0:
            sim.add(Join(at + timedelta(minutes=2), "miniprogram"))


def _join_private_domain(sim: _Simulation, rng: random.Random, cal: Calendar, plan: Plan) -> None:
    if rng.random() >= plan.persona.private_domain:
        return
    day = plan.acquired + timedelta(days=rng.randrange(2, 12))  # parcel card or the counter's live code
    store = plan.first_channel == "store"
    code = team.store_code(sim.store) if store else team.parcel_code(plan.first_channel)
    shares_phone = rng.random() < (0.8 if store else 0.5)  # 备注手机号 / gift claim
    sim.add(AddContact(cal.moment(rng, day), team.assign(rng, code), code, shares_phone))
    if not sim.in_mini_program and rng.random() < 0.65:
        day = day + timedelta(days=rng.randrange(1, 30))
        at = cal.moment(rng, day)
        sim.add(Browse(at, tuple(rng.sample(catalog.PRODUCTS, 2))))  # anonymous first visit
        sim.add(Join(at + timedelta(minutes=rng.randrange(1, 15)), "miniprogram"))
        sim.in_mini_program = True


def _repeat_purchases(sim: _Simulation, rng: random.Random, cal: Calendar, plan: Plan) -> None:
    extras = [
        p.last - timedelta(days=rng.randrange(3))
        for p in cal.promotions_between(plan.acquired + timedelta(days=20), plan.active_until)
        if rng.random() < plan.persona.festival_extra
    ]
    while sim.due or extras:
        due_day = min((d for d, _ in sim.due.values()), default=date.max)
        if extras and extras[0] <= due_day:
            day, stock_up = extras.pop(0), True
            lines = [(_product(rng, rng.choice(("面膜", "面膜", "防晒", "精华")), day), 1)]
        else:
            day, stock_up = sim.next_order_day(due_day)
            window = day + timedelta(days=REPLENISH_WINDOW)
            lines = []
            for pid, (d, product) in sorted(sim.due.items()):
                if d > window:
                    continue
                del sim.due[pid]
                wanted = product.seasonal is False or Calendar.sunscreen_season(day)
                if wanted and rng.random() < plan.persona.repeat:
                    lines.append((product, 2 if stock_up and rng.random() < 0.35 else 1))
        if day > plan.active_until or day > cal.last_day:
            break
        if not lines:
            continue
        if rng.random() < 0.25:  # cross-sell a category the customer does not use yet
            new = [c for c in catalog.CATEGORIES if c not in sim.owned]
            if new:
                lines.append((_product(rng, rng.choice(new), day), 1))
        if sim.in_mini_program and rng.random() < 0.3:
            sim.add(
                Browse(cal.moment(rng, day - timedelta(days=rng.randrange(1, 6))), tuple(p for p, _ in lines))
            )
        sim.buy(day, sim.channel_for_repeat(), _merge_lines(lines))


def _engaged_visits(sim: _Simulation, rng: random.Random, cal: Calendar, plan: Plan) -> None:
    """Members in the mini-program come back to look around (and abandon carts) between orders."""
    if not sim.in_mini_program:
        return
    day = plan.acquired
    end = min(plan.active_until, cal.last_day)
    while True:
        day += timedelta(days=1 + int(rng.expovariate(1 / 40)))
        if day > end:
            return
        viewed = tuple(rng.sample(catalog.PRODUCTS, 1 + rng.randrange(3)))
        added = viewed[:1] if rng.random() < 0.2 else ()
        sim.add(Browse(cal.moment(rng, day), viewed, added, cal.promotion_on(day)))


def _merge_lines(lines: list[tuple[Product, int]]) -> list[tuple[Product, int]]:
    merged: dict[str, tuple[Product, int]] = {}
    for product, qty in lines:
        held = merged.get(product.product_id)
        merged[product.product_id] = (product, qty + (held[1] if held else 0))
    return list(merged.values())


def plan_customer(rng: random.Random, cal: Calendar) -> Plan:
    persona = _pick_persona(rng)
    first_channel = weighted(rng, catalog.FIRST_CHANNEL_WEIGHTS[persona.name])
    acquired = cal.acquisition_day(rng)
    lifetime = timedelta(days=round(rng.expovariate(1 / persona.lifetime_days)))
    plan = Plan(persona, first_channel, acquired, acquired + lifetime)
    store = rng.choice(catalog.STORES)[0]
    sim = _Simulation(rng, cal, plan, store)
    if not persona.buys:
        _prospect(sim, rng, cal, plan)
    else:
        at = cal.moment(rng, acquired, store=first_channel == "store")
        if first_channel == "store" or (first_channel == "tmall" and rng.random() < 0.5):
            sim.add(Join(at - timedelta(minutes=rng.randrange(2, 10)), first_channel))
        elif first_channel == "miniprogram":
            first_visit = at - timedelta(days=rng.randrange(0, 4), minutes=45)
            sim.add(Browse(first_visit, tuple(rng.sample(catalog.PRODUCTS, 2))))
            sim.add(Join(at - timedelta(minutes=40), "miniprogram"))
            sim.in_mini_program = True
        sim.buy(acquired, first_channel, _first_basket(rng, first_channel, acquired), at)
        _join_private_domain(sim, rng, cal, plan)
        _repeat_purchases(sim, rng, cal, plan)
        _engaged_visits(sim, rng, cal, plan)
    plan.steps.sort(key=lambda s: s.at)
    return plan
