"""Health alerts: `evaluate_alerts(session, now)` checks every enabled rule against the last complete
brand-local week (Monday–Sunday) and stores one alert per rule and week when it fires; plus listing,
acknowledging, and operator changes to thresholds. Callers own the transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.analytics.alert_rules import KINDS, RuleKind
from siyu.analytics.sqltime import local_day_of
from siyu.analytics.tables import Alert, AlertRule
from siyu.core.clock import now as clock_now
from siyu.core.database import insert_for
from siyu.core.errors import NotFound, ValidationFailed


def last_complete_week(now: datetime) -> date:
    """Monday of the last brand-local week that ended before `now`."""
    today = local_day_of(now)
    return today - timedelta(days=today.weekday() + 7)


def period_key(week: date) -> str:
    year, number, _ = week.isocalendar()
    return f"{year}-W{number:02d}"


def ensure_rules(session: Session) -> list[AlertRule]:
    """The rule rows, creating the default of any rule kind that has none (lazily, idempotent)."""
    rows = {r.key: r for r in session.scalars(select(AlertRule))}
    missing = [k for k in KINDS.values() if k.key not in rows]
    if missing:
        table = AlertRule.__table__
        stmt = insert_for(session.get_bind().dialect.name, table).on_conflict_do_nothing(
            index_elements=[table.c.key]
        )
        at = clock_now()
        session.execute(
            stmt,
            [
                {"key": k.key, "threshold": k.threshold, "params": dict(k.params), "enabled": True,
                 "updated_at": at, "updated_by": "default"}
                for k in missing
            ],
        )  # fmt: skip
        session.flush()
        rows = {r.key: r for r in session.scalars(select(AlertRule))}
    return [rows[k] for k in sorted(rows) if k in KINDS]


def evaluate_alerts(session: Session, now: datetime) -> list[Alert]:
    """Evaluate every enabled rule for the last complete week; returns the alerts raised by this call
    (a rule that already fired for that week is not raised again)."""
    week = last_complete_week(now)
    key = period_key(week)
    raised: list[Alert] = []
    for rule in ensure_rules(session):
        if not rule.enabled:
            continue
        exists = session.scalar(select(Alert.id).where(Alert.rule_key == rule.key, Alert.period == key))
        if exists is not None:
            continue
        finding = KINDS[rule.key].check(session, week, rule.threshold, dict(rule.params or {}))
        if not finding.fired:
            continue
        table = Alert.__table__
        stmt = insert_for(session.get_bind().dialect.name, table).on_conflict_do_nothing(
            index_elements=[table.c.rule_key, table.c.period]
        )
        details = {
            **finding.details,
            "week_start": week.isoformat(),
            "week_end": (week + timedelta(days=6)).isoformat(),
        }
        session.execute(
            stmt,
            {
                "rule_key": rule.key, "period": key, "metric": finding.metric, "current": finding.current,
                "previous": finding.previous, "threshold": finding.threshold, "details": details,
                "message": finding.message[:500], "message_zh": finding.message_zh[:500], "raised_at": now,
            },
        )  # fmt: skip
        alert = session.scalar(select(Alert).where(Alert.rule_key == rule.key, Alert.period == key))
        if alert is not None:
            raised.append(alert)
    session.flush()
    return raised


def list_alerts(session: Session, status: str = "open", limit: int = 100) -> list[Alert]:
    query = select(Alert).order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)
    if status == "open":
        query = query.where(Alert.acknowledged_at.is_(None))
    elif status == "acknowledged":
        query = query.where(Alert.acknowledged_at.is_not(None))
    elif status != "all":
        raise ValidationFailed("status must be open, acknowledged or all", field="status")
    return list(session.scalars(query))


def acknowledge(session: Session, alert_id: int, actor: str) -> Alert:
    """Mark an alert as seen (idempotent: the first acknowledgement is kept)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = clock_now()
        alert.acknowledged_by = actor
        session.flush()
    return alert


def update_rule(
    session: Session,
    key: str,
    *,
    threshold: float | None,
    enabled: bool | None,
    params: dict[str, Any] | None,
    actor: str,
) -> AlertRule:
    kind: RuleKind | None = KINDS.get(key)
    if kind is None:
        raise NotFound(f"unknown rule {key!r}; rules: {', '.join(sorted(KINDS))}", field="key")
    rule = next(r for r in ensure_rules(session) if r.key == key)
    if threshold is not None:
        low, high = kind.threshold_range
        if not low <= threshold <= high:
            raise ValidationFailed(f"threshold of {key} must be from {low:g} to {high:g}", field="threshold")
        rule.threshold = threshold
    if params is not None:
        merged = dict(rule.params or {})
        for name, value in params.items():
            if name not in kind.limits:
                allowed = ", ".join(kind.limits) or "none"
                raise ValidationFailed(
                    f"{key} has no parameter {name!r} (parameters: {allowed})", field=f"params.{name}"
                )
            low_i, high_i = kind.limits[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low_i <= value <= high_i:
                raise ValidationFailed(
                    f"{name} must be a whole number from {low_i} to {high_i}", field=f"params.{name}"
                )
            merged[name] = value
        rule.params = merged
    if enabled is not None:
        rule.enabled = enabled
    rule.updated_at = clock_now()
    rule.updated_by = actor
    session.flush()
    return rule


def rule_public(rule: AlertRule) -> dict[str, Any]:
    kind = KINDS[rule.key]
    return {
        "key": rule.key,
        "label": kind.label,
        "label_zh": kind.label_zh,
        "metric": kind.metric,
        "description": kind.description,
        "threshold": rule.threshold,
        "params": rule.params,
        "enabled": rule.enabled,
        "updated_at": rule.updated_at,
        "updated_by": rule.updated_by,
    }


def alert_public(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule_key,
        "period": alert.period,
        "metric": alert.metric,
        "current": alert.current,
        "previous": alert.previous,
        "threshold": alert.threshold,
        "details": alert.details,
        "message": alert.message,
        "message_zh": alert.message_zh,
        "raised_at": alert.raised_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
    }
