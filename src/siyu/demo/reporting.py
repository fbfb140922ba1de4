"""The dashboard's numbers: monthly acquisition spend in proportion to the customers each paid channel
brought (so CAC and LTV/CAC are plausible), daily metrics materialised, and the weekly health alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from siyu.analytics import acquisition, alerts
from siyu.analytics.materialise import materialise
from siyu.analytics.sqltime import local_day_of
from siyu.demo import catalog
from siyu.demo.generator import DemoCustomer
from siyu.demo.seasons import FESTIVALS

ACTOR = "demo"
# CNY spent per customer acquired, by first channel; the 618 live room's traffic is bought on top.
CAC = {catalog.DOUYIN.code: Decimal("85"), catalog.TMALL.code: Decimal("70")}
LIVE_ROOM_CAC = Decimal("40")
NOTES = {catalog.DOUYIN.code: "巨量千川投放", catalog.TMALL.code: "直通车 + 引力魔方"}


@dataclass(frozen=True)
class Spend:
    channel: str  # a source name, or live_code:<code>
    first: date
    last: date
    amount_minor: int
    note: str


def _months(first: date, last: date) -> list[tuple[date, date]]:
    """Calendar months overlapping [first, last], clipped to it."""
    out: list[tuple[date, date]] = []
    start = first.replace(day=1)
    while start <= last:
        following = (start + timedelta(days=32)).replace(day=1)
        out.append((max(start, first), min(following - timedelta(days=1), last)))
        start = following
    return out


def spend_plan(population: Iterable[DemoCustomer], first: date, last: date) -> list[Spend]:
    """Spend per month and paid channel, in proportion to the customers it acquired."""
    acquired: Counter[tuple[str, date]] = Counter()
    live_room: Counter[int] = Counter()
    f618 = next(f for f in FESTIVALS if f.code == "618")
    for c in population:
        day, channel = c.plan.acquired, c.plan.first_channel
        if channel in CAC and first <= day <= last:
            acquired[(channel, day.replace(day=1))] += 1
            if channel == catalog.DOUYIN.code and date(day.year, *f618.start) <= day <= date(
                day.year, *f618.end
            ):
                live_room[day.year] += 1
    out: list[Spend] = []
    for start, end in _months(first, last):
        for channel, cac in CAC.items():
            n = acquired[(channel, start.replace(day=1))]
            if n:
                name = catalog.BY_CODE[channel].source_name
                out.append(Spend(name, start, end, int(cac * n * 100), NOTES[channel]))
    for year, n in sorted(live_room.items()):
        start, end = max(first, date(year, *f618.start)), min(last, date(year, *f618.end))
        out.append(Spend("live_code:douyin-0618", start, end, int(LIVE_ROOM_CAC * n * 100), "618 直播间投流"))
    return out


def ensure_spend(session: Session, plan: list[Spend]) -> int:
    """Enter the spend rows not entered yet (same channel, period and note); returns how many."""
    have = {(r.channel, r.period_start, r.period_end, r.note) for r in acquisition.list_spend(session)}
    added = 0
    for s in plan:
        if (s.channel, s.first, s.last, s.note) in have:
            continue
        acquisition.add_spend(session, channel=s.channel, period_start=s.first, period_end=s.last,
                              amount_minor=s.amount_minor, currency_code=catalog.CURRENCY, note=s.note,
                              actor=ACTOR)  # fmt: skip
        added += 1
    return added


def metric_days(now: datetime, days: int) -> list[date]:
    """The `days` brand-local days before today, oldest first."""
    today = local_day_of(now)
    return [today - timedelta(days=back) for back in range(days, 0, -1)]


def materialise_day(session: Session, day: date) -> int:
    return materialise(session, day)


def evaluate_alerts(session: Session, now: datetime) -> list[str]:
    """The alerts raised for the last complete week (rule keys)."""
    return [a.rule_key for a in alerts.evaluate_alerts(session, now)]
