"""Pure lifecycle rules: a customer's stage from their facts, their current stage and `now` (no I/O).

潜客 prospect: no order yet. 新客 new: one order, placed less than N days ago. 老客 returning: a repeat
buyer, or a one-order buyer past the new-customer window who is still active. 沉睡 dormant: a buyer
with no interaction and no purchase for D days (longer when the last order holds products with a
consumption cycle: max(D, cycle × factor)). 流失 churned: the same for L days. 回流 reactivated: a dormant or
churned buyer with activity since becoming so; after N more active days the rules above apply again.

`since` is derived from the facts (e.g. dormant since last activity + D), not from when the rule ran,
so the worker and the sweep reach the same transition with the same timestamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from siyu.core.settings import Settings

LABELS: dict[str, str] = {
    "prospect": "潜客",
    "new": "新客",
    "returning": "老客",
    "dormant": "沉睡",
    "churned": "流失",
    "reactivated": "回流",
}
INACTIVE = ("dormant", "churned")


@dataclass(frozen=True)
class Facts:
    """What the rules read, from `customer_stats` (and the last order's product categories)."""

    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None  # last interaction (events siyu writes itself do not count)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    orders_count: int = 0
    cycle_days: int | None = None  # longest consumption cycle among the last order's products

    @property
    def last_active(self) -> datetime | None:
        times = [t for t in (self.last_seen_at, self.last_order_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True)
class Current:
    stage: str
    since: datetime


@dataclass(frozen=True)
class Rules:
    new_days: int = 30
    dormant_days: int = 30
    churn_days: int = 180
    cycle_factor: float = 1.5

    @classmethod
    def from_settings(cls, s: Settings) -> Rules:
        return cls(
            s.lifecycle_new_days, s.lifecycle_dormant_days, s.lifecycle_churn_days, s.lifecycle_cycle_factor
        )

    @property
    def new_window(self) -> timedelta:
        return timedelta(days=self.new_days)

    def dormant_days_for(self, cycle_days: int | None) -> int:
        """D, or cycle × factor (rounded up) when that is longer."""
        if not cycle_days:
            return self.dormant_days
        return max(self.dormant_days, math.ceil(cycle_days * self.cycle_factor))

    def churn_days_for(self, cycle_days: int | None) -> int:
        return max(self.churn_days, self.dormant_days_for(cycle_days))


@dataclass(frozen=True)
class Decision:
    stage: str
    since: datetime
    reason: str


def stage_for(facts: Facts, current: Current | None, now: datetime, rules: Rules) -> Decision:
    """The stage the customer is in at `now`. When it equals `current.stage`, `since` is kept."""
    decision = _decide(facts, current, now, rules)
    if current is not None:
        if decision.stage == current.stage:
            return Decision(current.stage, current.since, decision.reason)
        decision = Decision(decision.stage, max(decision.since, current.since), decision.reason)
    return Decision(decision.stage, min(decision.since, now), decision.reason)


def _decide(facts: Facts, current: Current | None, now: datetime, rules: Rules) -> Decision:
    last_active = facts.last_active
    if facts.orders_count <= 0 or facts.first_order_at is None or last_active is None:
        return Decision("prospect", facts.first_seen_at or now, "no order yet")
    idle = now - last_active
    dormant, churn = rules.dormant_days_for(facts.cycle_days), rules.churn_days_for(facts.cycle_days)
    cycle = f" (consumption cycle {facts.cycle_days} days)" if dormant > rules.dormant_days else ""
    if idle >= timedelta(days=churn):
        return Decision(
            "churned",
            last_active + timedelta(days=churn),
            f"no interaction or purchase for {churn} days{cycle}",
        )
    if idle >= timedelta(days=dormant):
        return Decision(
            "dormant",
            last_active + timedelta(days=dormant),
            f"no interaction or purchase for {dormant} days{cycle}",
        )
    if current is not None and current.stage in INACTIVE and last_active >= current.since:
        back = last_active
        if now < back + rules.new_window:
            what = "bought again" if facts.last_order_at == last_active else "interacted again"
            return Decision("reactivated", back, f"{what} after being {current.stage}")
        current = Current("reactivated", back)  # came back more than N days ago: that window is over
    if current is not None and current.stage == "reactivated" and now < current.since + rules.new_window:
        return Decision("reactivated", current.since, f"back within the last {rules.new_days} days")
    return _active(facts, current, now, rules)


def _active(facts: Facts, current: Current | None, now: datetime, rules: Rules) -> Decision:
    first = facts.first_order_at
    assert first is not None and facts.last_order_at is not None
    after_reactivation = (
        current.since + rules.new_window if current and current.stage == "reactivated" else None
    )
    if facts.orders_count == 1 and now < first + rules.new_window:
        return Decision("new", max(first, after_reactivation or first), "first order")
    if facts.orders_count >= 2:
        since = min(facts.last_order_at, first + rules.new_window)
        reason = f"{facts.orders_count} orders"
    else:
        since = first + rules.new_window
        reason = f"one order, more than {rules.new_days} days ago, still active"
    if after_reactivation is not None:
        since = max(since, after_reactivation)
        reason += f"; {rules.new_days} days since coming back"
    return Decision("returning", since, reason)
