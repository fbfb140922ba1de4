"""The health rules (私域健康度): what each measures over the last complete brand-local week, when it fires,
and the bilingual message stating the numbers. Thresholds and parameters come from `alert_rules` rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.analytics import metrics


@dataclass(frozen=True)
class RuleKind:
    key: str
    label: str
    label_zh: str
    metric: str
    description: str
    threshold: float  # default
    params: dict[str, int]  # defaults; every parameter is a whole number within `limits`
    limits: dict[str, tuple[int, int]]
    threshold_range: tuple[float, float]
    check: Callable[[Session, date, float, dict[str, Any]], Finding]


@dataclass
class Finding:
    fired: bool
    metric: str
    current: float | None
    previous: float | None
    threshold: float
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    message_zh: str = ""


def _weekly(session: Session, metric: str, week: date, weeks: int) -> list[float | None]:
    """Values of `metric` for the `weeks` weeks ending with the week starting `week`, oldest first."""
    first = week - timedelta(weeks=weeks - 1)
    result = metrics.compute(session, metric, start=first, end=week + timedelta(days=6), granularity="week")
    by_week = {p["period"]: p["value"] for p in result["series"]}
    return [by_week.get((first + timedelta(weeks=i)).isoformat()) for i in range(weeks)]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def interaction_drop(session: Session, week: date, threshold: float, params: dict[str, Any]) -> Finding:
    previous, current = _weekly(session, "interactions", week, 2)
    prev, cur = previous or 0.0, current or 0.0
    drop = (prev - cur) / prev if prev else None
    finding = Finding(drop is not None and drop > threshold, "interactions", cur, prev, threshold,
                      {"drop": drop})  # fmt: skip
    if drop is not None:
        finding.message = (
            f"Interactions fell {_pct(drop)} week on week ({prev:g} → {cur:g}); "
            f"the alert threshold is a fall of more than {_pct(threshold)}."
        )
        finding.message_zh = (
            f"互动次数环比下降 {_pct(drop)} ({prev:g} → {cur:g}), 告警阈值为下降超过 {_pct(threshold)}"
        )
    return finding


def complaint_rate_rising(session: Session, week: date, threshold: float, params: dict[str, Any]) -> Finding:
    weeks = int(params.get("weeks", 2))
    rates = _weekly(session, "complaint_rate", week, weeks + 1)
    values = [r or 0.0 for r in rates]
    rising = all(values[i] > values[i - 1] * (1 + threshold) for i in range(1, len(values)))
    finding = Finding(rising and values[-1] > 0, "complaint_rate", values[-1], values[-2], threshold,
                      {"weekly_rates": rates, "weeks": weeks})  # fmt: skip
    trail = " → ".join(_pct(v) for v in values)
    finding.message = (
        f"The complaint rate rose {weeks} weeks running ({trail}); each rise must exceed "
        f"{_pct(threshold)} relative to fire."
    )
    finding.message_zh = f"投诉率连续 {weeks} 周上升 ({trail}), 每周相对升幅阈值 {_pct(threshold)}"
    return finding


def participation_below_baseline(
    session: Session, week: date, threshold: float, params: dict[str, Any]
) -> Finding:
    n = int(params.get("baseline_weeks", 4))
    rates = _weekly(session, "campaign_participation", week, n + 1)
    history = [r for r in rates[:-1] if r is not None]
    baseline = sum(history) / len(history) if history else None
    current = rates[-1]
    fired = baseline is not None and current is not None and current < baseline * (1 - threshold)
    finding = Finding(fired, "campaign_participation", current, baseline, threshold,
                      {"baseline_weeks": n, "weekly_rates": rates})  # fmt: skip
    if baseline is not None and current is not None:
        finding.message = (
            f"Campaign participation was {_pct(current)} last week, below the {n}-week baseline "
            f"{_pct(baseline)} by more than {_pct(threshold)}."
            if fired
            else f"Campaign participation {_pct(current)} against a {n}-week baseline of {_pct(baseline)}."
        )
        finding.message_zh = (
            f"上周活动参与率 {_pct(current)}, 前 {n} 周基线 {_pct(baseline)}, "
            f"告警阈值为低于基线 {_pct(threshold)}"
        )
    return finding


def ltv_cac_low(session: Session, week: date, threshold: float, params: dict[str, Any]) -> Finding:
    days = int(params.get("window_days", 90))
    end = week + timedelta(days=6)
    result = metrics.compute(
        session, "ltv_cac", start=end - timedelta(days=days - 1), end=end, granularity="all"
    )
    value = result["value"]
    finding = Finding(value is not None and value < threshold, "ltv_cac", value, None, threshold,
                      {"window_days": days, "ltv_total_minor": result["numerator"],
                       "acquisition_spend_minor": result["denominator"],
                       "channels": {b["key"]: b["value"] for b in result["breakdown"]}})  # fmt: skip
    if value is not None:
        finding.message = (
            f"LTV/CAC over the last {days} days is {value:.2f}, below the target of {threshold:g}."
            if finding.fired
            else f"LTV/CAC over the last {days} days is {value:.2f} (target {threshold:g})."
        )
        finding.message_zh = f"近 {days} 天 LTV/CAC 为 {value:.2f}, 目标值 {threshold:g}"
    return finding


KINDS: dict[str, RuleKind] = {
    k.key: k
    for k in (
        RuleKind("interaction_drop", "Interaction down week on week", "互动环比下降", "interactions",
                 "fires when interactions of the last complete week fell by more than the threshold "
                 "(a fraction) against the week before", 0.30, {}, {}, (0.0, 1.0), interaction_drop),
        RuleKind("complaint_rate_rising", "Complaint rate rising", "投诉率连续上升", "complaint_rate",
                 "fires when the weekly complaint rate rose `weeks` weeks running, each rise larger than "
                 "the threshold (relative)", 0.0, {"weeks": 2}, {"weeks": (1, 8)}, (0.0, 10.0),
                 complaint_rate_rising),
        RuleKind("participation_below_baseline", "Campaign participation below baseline",
                 "活动参与率低于基线", "campaign_participation",
                 "fires when last week's campaign participation is below the mean of the "
                 "`baseline_weeks` weeks before by more than the threshold (a fraction)", 0.20,
                 {"baseline_weeks": 4}, {"baseline_weeks": (1, 26)}, (0.0, 1.0),
                 participation_below_baseline),
        RuleKind("ltv_cac_low", "LTV/CAC below target", "LTV/CAC 低于目标", "ltv_cac",
                 "fires when LTV/CAC over the `window_days` days ending last Sunday is below the threshold",
                 3.0, {"window_days": 90}, {"window_days": (7, 730)}, (0.0, 1000.0), ltv_cac_low),
    )
}  # fmt: skip
