"""The demo's calendar: shopping festivals (38节, 618, 双11, 双12), demand by day, time of day.

All days are brand-local (Asia/Shanghai); `Calendar` is built from the anchor `now` and never reads a clock.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Festival:
    code: str
    label: str
    start: tuple[int, int]  # (month, day), first day of presale / warm-up
    end: tuple[int, int]  # last day, inclusive
    boost: float  # extra demand on each of its days (1.0 = double)
    threshold: Decimal  # 每满 threshold 减 cut
    cut: Decimal


FESTIVALS: tuple[Festival, ...] = (
    Festival("38", "38女王节", (3, 1), (3, 8), 1.2, Decimal("200"), Decimal("20")),
    Festival("618", "618年中大促", (5, 26), (6, 18), 2.2, Decimal("300"), Decimal("50")),
    Festival("1111", "双11全球狂欢节", (10, 20), (11, 11), 2.8, Decimal("300"), Decimal("60")),
    Festival("1212", "双12年终盛典", (12, 8), (12, 12), 0.8, Decimal("200"), Decimal("20")),
)


@dataclass(frozen=True)
class Promotion:
    festival: Festival
    first: date
    last: date

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


# Share of shopping by local hour: lunch break, evening, and the late-night live-stream peak.
HOUR_WEIGHTS = (
    1.2, 0.6, 0.3, 0.2, 0.1, 0.1, 0.3, 0.8, 1.5, 2.0, 2.5, 3.0,
    4.0, 3.5, 2.5, 2.5, 2.8, 3.0, 3.2, 3.8, 5.5, 6.5, 6.0, 3.5,
)  # fmt: skip
STORE_HOUR_WEIGHTS = (0,) * 10 + (2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 4, 2) + (0, 0)
_HOUR_CUM = list(accumulate(HOUR_WEIGHTS))
_STORE_HOUR_CUM = list(accumulate(STORE_HOUR_WEIGHTS))


class Calendar:
    """Days of the demo history `[first_day, last_day]` with their promotions and demand."""

    def __init__(self, now: datetime, days: int) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now.astimezone(UTC)
        self.last_day = self.now.astimezone(ZONE).date() - timedelta(days=1)
        self.first_day = self.last_day - timedelta(days=days - 1)
        self.promotions = [
            Promotion(f, date(year, *f.start), date(year, *f.end))
            for year in range(self.first_day.year, self.last_day.year + 2)
            for f in FESTIVALS
        ]
        self.promotions.sort(key=lambda p: p.first)
        self.days = [self.first_day + timedelta(days=i) for i in range(days)]
        growth = [0.55 + 0.9 * i / max(1, days - 1) for i in range(days)]  # the brand is growing
        self._acquire_cum = list(
            accumulate(g * self.demand(d) for g, d in zip(growth, self.days, strict=True))
        )

    def promotion_on(self, day: date) -> Promotion | None:
        for p in self.promotions:
            if p.contains(day):
                return p
        return None

    def next_promotion(self, day: date) -> Promotion | None:
        """The first promotion that starts on or after `day`."""
        for p in self.promotions:
            if p.first >= day:
                return p
        return None

    def promotions_between(self, first: date, last: date) -> list[Promotion]:
        return [p for p in self.promotions if p.last >= first and p.last <= last]

    def demand(self, day: date) -> float:
        """Relative shopping demand of a day: festivals (peaking on their last days) and weekends."""
        weight = 1.15 if day.weekday() >= 5 else 1.0
        promo = self.promotion_on(day)
        if promo is not None:
            weight *= 1.0 + promo.festival.boost * (2.5 if (promo.last - day).days < 3 else 1.0)
        return weight

    def acquisition_day(self, rng: random.Random) -> date:
        """When a new customer first appears: more recent (growth) and more around festivals."""
        x = rng.random() * self._acquire_cum[-1]
        return self.days[min(bisect_right(self._acquire_cum, x), len(self.days) - 1)]

    def moment(self, rng: random.Random, day: date, *, store: bool = False) -> datetime:
        """A UTC instant on the brand-local `day` at a plausible hour (store hours for POS)."""
        cum = _STORE_HOUR_CUM if store else _HOUR_CUM
        hour = bisect_right(cum, rng.random() * cum[-1])
        local = datetime.combine(day, time(min(hour, 23), rng.randrange(60), rng.randrange(60)), ZONE)
        return local.astimezone(UTC).replace(microsecond=rng.randrange(1000) * 1000)

    def local_day(self, when: datetime) -> date:
        return when.astimezone(ZONE).date()

    def in_history(self, when: datetime) -> bool:
        return self.local_day(when) >= self.first_day and when < self.now

    @staticmethod
    def sunscreen_season(day: date) -> bool:
        return 4 <= day.month <= 9


def festival_discount(promo: Promotion | None, subtotal: Decimal) -> Decimal:
    """每满减: every full `threshold` of the subtotal takes `cut` off."""
    if promo is None:
        return Decimal("0.00")
    f = promo.festival
    return (subtotal // f.threshold) * f.cut
