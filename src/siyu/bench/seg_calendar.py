"""The demo brand's calendar as NumPy arrays for the bulk generator: festival demand by day, acquisition
days, demand-weighted days in a range, and plausible moments (UTC microseconds) on brand-local days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from siyu.demo.seasons import FESTIVALS, HOUR_WEIGHTS, STORE_HOUR_WEIGHTS, ZONE, Calendar

US = 1_000_000
HOUR_US = 3_600 * US
DAY_US = 86_400 * US
I64 = NDArray[Any]


class BrandCalendar:
    """`days` brand-local days ending yesterday (relative to `now`), indexed 0 … days-1."""

    def __init__(self, now: datetime, days: int) -> None:
        cal = Calendar(now, days)
        self.now_us = int(cal.now.timestamp() * US)
        self.days = days
        self.first_day = cal.first_day
        self.last_day = cal.last_day
        self.demand = np.array([cal.demand(d) for d in cal.days])
        growth = 0.55 + 0.9 * np.arange(days) / max(1, days - 1)  # the brand is growing
        self.acquire_cum = np.cumsum(growth * self.demand)
        self.demand_cum = np.cumsum(self.demand)
        self.midnight_us = np.array(
            [int(datetime.combine(d, time(), ZONE).timestamp()) * US for d in cal.days], dtype=np.int64
        )
        promos = [cal.promotion_on(d) for d in cal.days]
        codes = [f.code for f in FESTIVALS]
        self.festival = np.array([-1 if p is None else codes.index(p.festival.code) for p in promos], np.int8)
        self.month = np.array([d.month for d in cal.days], dtype=np.int8)
        self.threshold_fen = np.array([int(f.threshold * 100) for f in FESTIVALS], dtype=np.int64)
        self.cut_fen = np.array([int(f.cut * 100) for f in FESTIVALS], dtype=np.int64)
        self._hours = np.cumsum(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
        self._store_hours = np.cumsum(STORE_HOUR_WEIGHTS) / sum(STORE_HOUR_WEIGHTS)

    def day_of(self, when: datetime) -> int:
        """Index of the brand-local day of `when` (may fall outside 0 … days-1)."""
        return (when.astimezone(ZONE).date() - self.first_day).days

    def acquisition_days(self, rng: np.random.Generator, n: int) -> I64:
        """When customers first appear: more recently (growth) and around festivals."""
        x = rng.random(n) * self.acquire_cum[-1]
        days: I64 = np.minimum(np.searchsorted(self.acquire_cum, x, side="right"), self.days - 1)
        return days.astype(np.int64)

    def days_between(self, rng: np.random.Generator, low: I64, high: I64) -> I64:
        """A demand-weighted day in [low, high] (inclusive) for each pair; festivals pull activity in."""
        base = np.where(low > 0, self.demand_cum[np.maximum(low - 1, 0)], 0.0)
        x = base + rng.random(len(low)) * (self.demand_cum[high] - base)
        picked = np.searchsorted(self.demand_cum, x, side="left")
        days: I64 = np.clip(picked, low, high)
        return days.astype(np.int64)

    def moments(self, rng: np.random.Generator, days: I64, store: NDArray[Any] | None = None) -> I64:
        """A UTC instant (µs, millisecond precision) at a plausible local hour of each day."""
        u = rng.random(len(days))
        hour = np.searchsorted(self._hours, u, side="right")
        if store is not None and store.any():
            hour = np.where(store, np.searchsorted(self._store_hours, u, side="right"), hour)
        hour = np.minimum(hour, 23)
        seconds = hour * 3600 + rng.integers(0, 3600, len(days))
        return self.midnight_us[days] + seconds * US + rng.integers(0, 1000, len(days)) * 1000


def local_days(us: I64, zone_name: str) -> NDArray[Any]:
    """Calendar day (days since 1970-01-01) of each UTC instant in `zone_name`, as `stats.local_day`
    computes it; offsets are looked up once per hour of the range, so zones with DST work too."""
    if len(us) == 0:
        return np.zeros(0, dtype=np.int64)
    zone = ZoneInfo(zone_name)
    first_hour = int(us.min()) // HOUR_US
    last_hour = int(us.max()) // HOUR_US
    offsets = np.empty(last_hour - first_hour + 1, dtype=np.int64)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i in range(len(offsets)):
        at = epoch + timedelta(hours=first_hour + i)
        offset = at.astimezone(zone).utcoffset()
        offsets[i] = int(offset.total_seconds()) * US if offset is not None else 0
    local: I64 = us + offsets[us // HOUR_US - first_hour]
    days: I64 = local // DAY_US
    return days


def epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days
