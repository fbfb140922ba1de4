"""The demo brand's whole message stream: a pure function of (customers, seed, now).

Customer `n` is generated from its own `random.Random("lanji/<seed>/<n>")`, so it does not depend on how
many customers are asked for; the stream is sorted by time and never reads the clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from siyu.demo import lifecycle, messages
from siyu.demo.lifecycle import Plan
from siyu.demo.messages import DemoMessage
from siyu.demo.people import Person, make_person
from siyu.demo.seasons import Calendar

HISTORY_DAYS = 548  # about 18 months


@dataclass(frozen=True)
class DemoCustomer:
    person: Person
    plan: Plan
    messages: list[DemoMessage]


def customers(count: int, seed: int, now: datetime, *, days: int = HISTORY_DAYS) -> Iterator[DemoCustomer]:
    """Customers 0..count-1 with their plans and messages (each customer's messages in time order)."""
    if count < 0:
        raise ValueError("count must be ≥ 0")
    calendar = Calendar(now, days)
    for number in range(count):
        rng = random.Random(f"lanji/{seed}/{number}")  # noqa: S311 (simulation, not secrets)
        person = make_person(rng, seed, number, calendar.last_day.year)
        plan = lifecycle.plan_customer(rng, calendar)
        yield DemoCustomer(person, plan, messages.render(rng, seed, person, plan))


def stream_of(population: Iterable[DemoCustomer]) -> list[DemoMessage]:
    """The customers' messages, oldest first (ties broken by channel and message id)."""
    stream = [m for c in population for m in c.messages]
    stream.sort(key=lambda m: (m.at, m.channel, m.payload["messageId"]))
    return stream


def generate(count: int, seed: int, now: datetime, *, days: int = HISTORY_DAYS) -> list[DemoMessage]:
    """Every message of the demo, oldest first."""
    return stream_of(customers(count, seed, now, days=days))


def history_days(now: datetime, *, days: int = HISTORY_DAYS) -> tuple[date, date]:
    """The first and last brand-local day of the history that ends at `now`."""
    calendar = Calendar(now, days)
    return calendar.first_day, calendar.last_day
