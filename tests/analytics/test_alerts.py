"""Health alerts fire at their thresholds and not below them, carry the numbers behind them, are raised
once per rule and week, can be acknowledged, and their thresholds are the operator's to change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from siyu.analytics import acquisition, alerts
from siyu.analytics.tables import Alert, AlertRule
from siyu.auth.service import create_source
from siyu.core.errors import NotFound, ValidationFailed
from tests.analytics.brand import send

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai: last complete week Nov 9–15
WEEK, PREVIOUS = date(2026, 11, 9), date(2026, 11, 2)


def event(user: str, day: date, name: str, n: int = 0, **props: Any) -> dict[str, Any]:
    when = f"{day.isoformat()}T{10 + n // 60:02d}:{n % 60:02d}:00+08:00"
    return {"type": "track", "userId": user, "timestamp": when, "event": name, "properties": props}


def ingest(session: Session, messages: list[dict[str, Any]]) -> None:
    source = create_source(session, "shop")[0].id
    session.commit()
    send(session, source, messages, "a")


def fired(session: Session, rule: str) -> list[Alert]:
    return [a for a in alerts.evaluate_alerts(session, NOW) if a.rule_key == rule]


def views(user: str, day: date, count: int) -> list[dict[str, Any]]:
    return [event(user, day, "Product Viewed", i) for i in range(count)]


@pytest.mark.parametrize(("current", "fires"), [(7, False), (6, True)])
def test_interaction_drop(session: Session, current: int, fires: bool) -> None:
    ingest(
        session,
        views("u1", PREVIOUS + timedelta(days=1), 10) + views("u1", WEEK + timedelta(days=2), current),
    )
    raised = fired(session, "interaction_drop")
    if not fires:  # 10 → 7 is a fall of exactly 30%: not more than the threshold
        assert raised == []
        return
    (alert,) = raised
    assert (alert.current, alert.previous, alert.threshold, alert.metric) == (6, 10, 0.3, "interactions")
    assert alert.details["drop"] == pytest.approx(0.4) and alert.period == "2026-W46"
    assert (
        alert.details["week_start"] == "2026-11-09"
        and "40.0%" in alert.message
        and "40.0%" in alert.message_zh
    )
    assert fired(session, "interaction_drop") == []  # once per rule and week
    assert len(session.scalars(select(Alert)).all()) == 1


def test_threshold_is_configurable(session: Session) -> None:
    ingest(session, views("u1", PREVIOUS, 10) + views("u1", WEEK, 6))
    alerts.update_rule(session, "interaction_drop", threshold=0.45, enabled=None, params=None, actor="ops")
    assert fired(session, "interaction_drop") == []
    alerts.update_rule(session, "interaction_drop", threshold=0.35, enabled=None, params=None, actor="ops")
    assert len(fired(session, "interaction_drop")) == 1


def _complaint_weeks(complaints: list[int]) -> list[dict[str, Any]]:
    """10 customers active each of the last three weeks; `complaints[i]` of them complain in week i."""
    out = []
    for i, n in enumerate(complaints):
        day = WEEK - timedelta(weeks=len(complaints) - 1 - i)
        for u in range(10):
            out.append(event(f"c{u}", day, "Product Viewed", i))
            if u < n:
                out.append(event(f"c{u}", day, "Complaint Submitted", 30 + i))
    return out


@pytest.mark.parametrize(("complaints", "fires"), [([0, 1, 2], True), ([0, 1, 1], False), ([1, 0, 2], False)])
def test_complaint_rate_rising(session: Session, complaints: list[int], fires: bool) -> None:
    ingest(session, _complaint_weeks(complaints))
    raised = fired(session, "complaint_rate_rising")
    assert bool(raised) == fires
    if fires:
        assert raised[0].details["weekly_rates"] == [0.0, 0.1, 0.2]
        assert (raised[0].current, raised[0].previous) == (0.2, 0.1)


def _participation(engaged: list[int]) -> list[dict[str, Any]]:
    """10 customers reached each week; `engaged[i]` of them open the message."""
    out = []
    for i, n in enumerate(engaged):
        day = WEEK - timedelta(weeks=len(engaged) - 1 - i)
        for u in range(10):
            mid = f"m{i}-{u}"
            out.append(event(f"p{u}", day, "Message Delivered", i, message_id=mid, channel="sms"))
            if u < n:
                out.append(event(f"p{u}", day, "Message Opened", 30 + i, message_id=mid, channel="sms"))
    return out


@pytest.mark.parametrize(("current", "fires"), [(3, True), (4, False)])
def test_participation_below_baseline(session: Session, current: int, fires: bool) -> None:
    # baseline 50% over four weeks; 20% below it is 40%: 30% fires, 40% does not
    ingest(session, _participation([5, 5, 5, 5, current]))
    raised = fired(session, "participation_below_baseline")
    assert bool(raised) == fires
    if fires:
        assert (raised[0].current, raised[0].previous, raised[0].threshold) == (0.3, 0.5, 0.2)


@pytest.mark.parametrize(("revenue", "fires"), [("299.00", True), ("300.00", False)])
def test_ltv_cac_below_three(session: Session, revenue: str, fires: bool) -> None:
    ingest(session, [event("n1", date(2026, 11, 2), "Order Completed", order_id="x1", total=revenue)])
    nov1, nov10 = date(2026, 11, 1), date(2026, 11, 10)
    acquisition.add_spend(session, channel="shop", period_start=nov1, period_end=nov10, amount_minor=10000,
                          currency_code="CNY", note=None, actor="t")  # fmt: skip
    raised = fired(session, "ltv_cac_low")
    assert bool(raised) == fires
    if fires:
        alert = raised[0]
        assert alert.current == pytest.approx(2.99) and alert.threshold == 3.0
        assert alert.details["acquisition_spend_minor"] == 10000 and alert.details["ltv_total_minor"] == 29900
        assert alert.details["channels"] == {"shop": pytest.approx(2.99)}


def test_quiet_brand_raises_nothing_and_rules_are_recreated(session: Session) -> None:
    assert alerts.evaluate_alerts(session, NOW) == []
    session.execute(delete(AlertRule))
    assert [r.key for r in alerts.ensure_rules(session)] == sorted(alerts.KINDS)
    assert alerts.evaluate_alerts(session, NOW) == []


def test_disabled_rules_do_not_run(session: Session) -> None:
    ingest(session, views("u1", PREVIOUS, 10) + views("u1", WEEK, 1))
    alerts.update_rule(session, "interaction_drop", threshold=None, enabled=False, params=None, actor="ops")
    assert fired(session, "interaction_drop") == []


def test_acknowledge(session: Session) -> None:
    ingest(session, views("u1", PREVIOUS, 10) + views("u1", WEEK, 1))
    (alert,) = fired(session, "interaction_drop")
    assert [a.id for a in alerts.list_alerts(session, "open")] == [alert.id]
    acked = alerts.acknowledge(session, alert.id, "ops")
    first = acked.acknowledged_at
    assert first is not None and acked.acknowledged_by == "ops"
    assert alerts.acknowledge(session, alert.id, "someone else").acknowledged_by == "ops"
    assert alerts.list_alerts(session, "open") == []
    assert [a.id for a in alerts.list_alerts(session, "acknowledged")] == [alert.id]
    with pytest.raises(NotFound):
        alerts.acknowledge(session, alert.id + 100, "ops")


@pytest.mark.parametrize(
    ("key", "change", "field"),
    [
        ("interaction_drop", {"threshold": 1.5}, "threshold"),
        ("complaint_rate_rising", {"params": {"weeks": 0}}, "params.weeks"),
        ("complaint_rate_rising", {"params": {"days": 3}}, "params.days"),
        ("ltv_cac_low", {"params": {"window_days": "90"}}, "params.window_days"),
    ],
)
def test_rule_changes_are_validated(session: Session, key: str, change: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {"threshold": None, "enabled": None, "params": None, **change}
    with pytest.raises(ValidationFailed) as bad:
        alerts.update_rule(session, key, actor="ops", **kwargs)
    assert bad.value.field == field
    with pytest.raises(NotFound):
        alerts.update_rule(session, "nope", threshold=1.0, enabled=None, params=None, actor="ops")
