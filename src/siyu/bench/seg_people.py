"""Who the bench brand's customers are, one NumPy array per attribute: the demo's personas, first channels,
cities, skin types, birthdays, membership, WeCom contacts (live code, advisor) and how active they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siyu.bench.seg_calendar import DAY_US, BrandCalendar, epoch_day
from siyu.demo import catalog, lifecycle, people
from siyu.demo.seasons import FESTIVALS

PERSONAS = lifecycle.PERSONAS
CHANNELS = tuple(c.code for c in catalog.CHANNELS)  # douyin, tmall, store, miniprogram, wecom
DOUYIN, TMALL, STORE, MINIPROGRAM, WECOM = range(5)
CITIES = tuple(c for c, _ in people.CITIES)
SKIN_TYPES = tuple(s for s, _ in people.SKIN_TYPES)
STORES = tuple(s for s, _ in catalog.STORES)
DEPARTMENTS = (("华东", 35), ("华南", 20), ("华北", 20), ("华中", 10), ("西南", 10), ("西北", 5))
# WeCom live-code `state`s; customers keep the one they came through as the trait `live_code`
LIVE_CODES = (
    "douyin_live",
    "douyin-0618",
    "douyin-1111",
    "parcel_douyin",
    "parcel_tmall",
    "parcel_miniprogram",
    *(f"store_{s}" for s in STORES),
)
FAVOURITE = (0.30, 0.25, 0.15, 0.20, 0.10)  # over catalog.CATEGORIES: 精华 面霜 洁面 面膜 防晒
PER_ADVISOR = 2_500  # customers per staff member

Ints = NDArray[Any]
Bools = NDArray[Any]


def _weights(pairs: tuple[tuple[str, int], ...]) -> NDArray[Any]:
    w: NDArray[Any] = np.array([x for _, x in pairs], dtype=np.float64)
    shares: NDArray[Any] = w / w.sum()
    return shares


@dataclass
class People:
    """Customer `i` of the generated brand (its database id is assigned at load time)."""

    count: int
    persona: Ints  # index into PERSONAS
    channel: Ints  # first channel, index into CHANNELS
    acquired: Ints  # day index
    active_end: Ints  # last day index they are active (≥ acquired, ≤ days-1)
    first_at: Ints  # µs: the first moment seen (first order for buyers)
    female: Bools
    birthday: Ints  # days since 1970-01-01
    city: Ints
    skin: Ints
    favourite: Ints  # index into catalog.CATEGORIES
    store: Ints  # index into STORES (their local counter)
    phone: Bools  # has a phone number
    email: Bools
    member: Bools
    join_at: Ints  # µs, valid where member
    join_channel: Ints
    in_mini_program: Bools
    contact: Bools  # added a WeCom advisor
    contact_at: Ints  # µs, valid where contact
    shares_phone: Bools
    live_code: Ints  # index into LIVE_CODES, valid where contact
    advisor: Ints  # staff index, valid where contact
    activity: NDArray[Any]  # relative browsing activity
    staff_count: int

    @property
    def buys(self) -> Bools:
        return np.array([p.buys for p in PERSONAS])[self.persona]


def make_people(rng: np.random.Generator, cal: BrandCalendar, n: int) -> People:
    shares = np.array([p.share for p in PERSONAS])
    persona = rng.choice(len(PERSONAS), n, p=shares / shares.sum())
    channel = np.empty(n, dtype=np.int64)
    for k, p in enumerate(PERSONAS):
        mask = persona == k
        weights = catalog.FIRST_CHANNEL_WEIGHTS[p.name]
        w = np.array([weights[c] for c in CHANNELS])
        channel[mask] = rng.choice(len(CHANNELS), int(mask.sum()), p=w / w.sum())
    acquired = cal.acquisition_days(rng, n)
    lifetime = rng.exponential(np.array([p.lifetime_days for p in PERSONAS])[persona]).round()
    active_end = np.minimum(acquired + lifetime.astype(np.int64), cal.days - 1)
    first_at = cal.moments(rng, acquired, store=channel == STORE)
    buys = np.array([p.buys for p in PERSONAS])[persona]

    age = np.clip(np.round(rng.normal(30, 7, n)), 18, 55).astype(np.int64)
    year = cal.last_day.year
    year_start = np.array([epoch_day(date(year - a, 1, 1)) for a in range(60)], dtype=np.int64)
    birthday = year_start[age] + rng.integers(0, 365, n)

    # membership: the store counter and mini-program sign everyone up, Tmall's 会员通 about half
    member = np.where(
        buys,
        np.select([channel == STORE, channel == MINIPROGRAM, channel == TMALL], [1.0, 1.0, 0.5], 0.0),
        0.2,
    ) > rng.random(n)
    join_at = first_at - rng.integers(2, 41, n) * 60 * 1_000_000
    join_channel = np.where(channel == STORE, STORE, np.where(channel == TMALL, TMALL, MINIPROGRAM))
    join_channel = np.where(member, join_channel, MINIPROGRAM)
    in_mini_program = member & (join_channel == MINIPROGRAM)

    # WeCom: buyers add an advisor after the parcel card or at the counter; Douyin live prospects too
    private = np.array([p.private_domain for p in PERSONAS])[persona]
    prospect_adds = np.select([channel == WECOM, channel == DOUYIN], [1.0, 0.5], 0.0)
    contact = np.where(buys, private, prospect_adds) > rng.random(n)
    delay = np.where(buys, rng.integers(2, 12, n), 0)
    contact_day = acquired + delay
    contact &= contact_day < cal.days
    contact_at = np.where(
        buys, cal.moments(rng, np.minimum(contact_day, cal.days - 1)), first_at + 60 * 1_000_000
    )
    shares_phone = rng.random(n) < np.where(channel == STORE, 0.8, 0.5)
    code = np.where(buys, LIVE_CODES.index("parcel_tmall"), LIVE_CODES.index("douyin_live"))
    code = np.where(buys & (channel == DOUYIN), LIVE_CODES.index("parcel_douyin"), code)
    code = np.where(buys & (channel == MINIPROGRAM), LIVE_CODES.index("parcel_miniprogram"), code)
    store = rng.integers(0, len(STORES), n)
    code = np.where(buys & (channel == STORE), LIVE_CODES.index("store_SH01") + store, code)
    festival_code = {"618": "douyin-0618", "1111": "douyin-1111"}
    for fest, live in festival_code.items():
        index = [f.code for f in FESTIVALS].index(fest)
        during = (cal.festival[acquired] == index) & (channel == DOUYIN)
        code = np.where(during, LIVE_CODES.index(live), code)
    # buyers who add an advisor often join the mini-program a few weeks later (gift claim)
    late_join = contact & buys & ~member & (rng.random(n) < 0.65)
    late_at = contact_at + rng.integers(1, 30, n) * DAY_US
    late_join &= late_at < cal.now_us
    member |= late_join
    join_at = np.where(late_join, late_at, join_at)
    in_mini_program |= late_join

    staff_count = max(12, n // PER_ADVISOR)
    weight = np.array([1.0, 0.8, 1.5, 3.0])[persona] * (active_end - acquired + 7) / 30
    activity = weight * rng.lognormal(0.0, 0.8, n) * np.where(in_mini_program, 2.0, 1.0)
    return _compact(
        People(
            count=n,
            persona=persona,
            channel=channel,
            acquired=acquired,
            active_end=active_end,
            first_at=first_at,
            female=rng.random(n) < 0.88,
            birthday=birthday,
            city=rng.choice(len(CITIES), n, p=_weights(people.CITIES)),
            skin=rng.choice(len(SKIN_TYPES), n, p=_weights(people.SKIN_TYPES)),
            favourite=rng.choice(len(FAVOURITE), n, p=np.array(FAVOURITE)),
            store=store,
            phone=rng.random(n) < 0.92,
            email=rng.random(n) < 0.18,
            member=member,
            join_at=join_at,
            join_channel=join_channel,
            in_mini_program=in_mini_program,
            contact=contact,
            contact_at=contact_at,
            shares_phone=shares_phone,
            live_code=code,
            advisor=rng.integers(0, staff_count, n),
            activity=activity,
            staff_count=staff_count,
        )
    )


SMALL = {
    "persona": np.int8,
    "channel": np.int8,
    "acquired": np.int16,
    "active_end": np.int16,
    "birthday": np.int32,
    "city": np.int8,
    "skin": np.int8,
    "favourite": np.int8,
    "store": np.int8,
    "join_channel": np.int8,
    "live_code": np.int8,
    "advisor": np.int32,
}


def _compact(p: People) -> People:
    """Small integer types for categorical fields (a million customers fit in ~100 MB)."""
    for name, dtype in SMALL.items():
        setattr(p, name, getattr(p, name).astype(dtype))
    return p


def department_of_staff(rng: np.random.Generator, staff_count: int) -> Ints:
    """Index into DEPARTMENTS of each staff member."""
    return rng.choice(len(DEPARTMENTS), staff_count, p=_weights(DEPARTMENTS))
