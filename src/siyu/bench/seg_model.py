"""The whole bench brand in memory: people, orders, events, the stats and rollups they imply, and each
customer's ids and name (stored compactly, formatted on demand). A pure function of its size, seed and now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siyu.bench.seg_calendar import BrandCalendar
from siyu.bench.seg_events import Events, Rollups, Stats, make_events, rollups, stats
from siyu.bench.seg_orders import Orders, make_orders
from siyu.bench.seg_people import People, department_of_staff, make_people
from siyu.demo import people as demo_people

HISTORY_DAYS = 365
SURNAMES = tuple(s for s, _ in demo_people.SURNAMES)
DOMAINS = tuple(d for d, _ in demo_people.EMAIL_DOMAINS)


@dataclass(frozen=True)
class BrandSize:
    customers: int
    events: int
    seed: int = 7


class CustomerStrings:
    """Names, device ids, member ids, phones and emails of every customer, as compact arrays."""

    def __init__(self, rng: np.random.Generator, seed: int, p: People) -> None:
        n = p.count
        weights = np.array([w for _, w in demo_people.SURNAMES], dtype=np.float64)
        surname = rng.choice(len(SURNAMES), n, p=weights / weights.sum())
        single = rng.random(n) < 0.25
        a, b = rng.integers(0, 1 << 30, n), rng.integers(0, 1 << 30, n)
        names = []
        for s, female, one, x, y in zip(
            surname.tolist(), p.female.tolist(), single.tolist(), a.tolist(), b.tolist(), strict=True
        ):
            chars = demo_people.FEMALE_CHARS if female else demo_people.MALE_CHARS
            names.append(SURNAMES[s] + chars[x % len(chars)] + ("" if one else chars[y % len(chars)]))
        self._names = np.array(names, dtype="U4")
        self._devices = np.frombuffer(rng.bytes(16 * n), dtype="S16") if n else np.zeros(0, "S16")
        self._member = p.member
        self._member_tail = (np.arange(n, dtype=np.int64) * 7_777_777 + 1_000_003 * (seed % 97 + 1)) % 10**9
        self._member_prefix = f"LJ{seed % 100:02d}"
        multiplier = 48_271 + 2 * (seed % 1000)  # the demo's numbering: the tail is a bijection of the number
        multiplier += 2 if multiplier % 5 == 0 else 0
        self._phone = p.phone
        self._phone_tail = (np.arange(n, dtype=np.int64) * multiplier + 7_919 * (seed + 1)) % 10**8
        self._phone_prefix = rng.integers(0, len(demo_people.MOBILE_PREFIXES), n)
        self._email = p.email
        self._handle = rng.integers(0, len(demo_people.PINYIN_HANDLES), n)
        self._domain = rng.integers(0, len(DOMAINS), n)
        self._all_devices: list[str] | None = None
        self._all_member_ids: list[str | None] | None = None

    def all_devices(self) -> list[str]:
        """Every customer's device id, formatted once (the event log repeats them)."""
        if self._all_devices is None:
            self._all_devices = self.devices(range(len(self._devices)))
        return self._all_devices

    def all_member_ids(self) -> list[str | None]:
        if self._all_member_ids is None:
            tails = self._member_tail.tolist()
            prefix = self._member_prefix
            self._all_member_ids = [
                f"{prefix}{t:09d}" if m else None for t, m in zip(tails, self._member.tolist(), strict=True)
            ]
        return self._all_member_ids

    def name(self, i: int) -> str:
        return str(self._names[i])

    def names(self, idx: NDArray[Any]) -> list[str]:
        return list(self._names[idx].tolist())

    def device(self, i: int) -> str:
        h = self._devices[i].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def devices(self, idx: Iterable[int]) -> list[str]:
        raw = self._devices[np.fromiter(idx, dtype=np.int64)].tobytes().hex()
        cut = (0, 8, 12, 16, 20, 32)
        return ["-".join(raw[i + a : i + b] for a, b in pairwise(cut)) for i in range(0, len(raw), 32)]

    def member_id(self, i: int) -> str | None:
        return f"{self._member_prefix}{self._member_tail[i]:09d}" if self._member[i] else None

    def phone(self, i: int) -> str | None:
        if not self._phone[i]:
            return None
        return f"+86{demo_people.MOBILE_PREFIXES[self._phone_prefix[i]]}{self._phone_tail[i]:08d}"

    def email(self, i: int) -> str | None:
        if not self._email[i]:
            return None
        return f"{demo_people.PINYIN_HANDLES[self._handle[i]]}{i:07d}@{DOMAINS[self._domain[i]]}"


@dataclass
class Brand:
    size: BrandSize
    now: datetime
    cal: BrandCalendar
    people: People
    orders: Orders
    events: Events
    stats: Stats
    rollups: Rollups
    staff_department: NDArray[Any]
    strings: CustomerStrings


def build(size: BrandSize, now: datetime, zone: str) -> Brand:
    """Generate the brand; `zone` is the rollups' time zone (settings.timezone)."""
    rng = np.random.default_rng(size.seed)
    cal = BrandCalendar(now, HISTORY_DAYS)
    p = make_people(rng, cal, size.customers)
    o = make_orders(rng, cal, p)
    e = make_events(rng, cal, p, o, size.events)
    return Brand(
        size=size,
        now=now,
        cal=cal,
        people=p,
        orders=o,
        events=e,
        stats=stats(p, o, e),
        rollups=rollups(e, zone, p.count),
        staff_department=department_of_staff(rng, p.staff_count),
        strings=CustomerStrings(rng, size.seed, p),
    )
