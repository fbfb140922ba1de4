"""Analytics API: `/api/v1/metrics…` (definitions, values, cohorts, acquisition spend), `/api/v1/alerts…`
(health alerts and their rules) and `/api/v1/experiments…` (A/B/n analysis). Thin: parse, call, map."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder

from siyu.analytics import acquisition, alerts, cohorts, experiment_data, metrics
from siyu.analytics.definitions import Options
from siyu.analytics.experiments import ArmData, Report, analyze, arms_from_rows
from siyu.analytics.population import Filters
from siyu.analytics.schemas import AnalyzeRequest, ArmIn, RuleUpdate, SpendCreate, SpendPublic
from siyu.analytics.sqltime import FIRST_DAY, check_day, local_day_of
from siyu.core.clock import now
from siyu.core.errors import ValidationFailed
from siyu.core.settings import get_settings
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["analytics"])

From = Annotated[date | None, Query(alias="from", description="First brand-local day (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="Last brand-local day, inclusive")]
Text = Annotated[str | None, Query(max_length=200)]


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    """Default: the 30 brand-local days ending today."""
    end = check_day(end, "to") if end else local_day_of(now())
    return check_day(start, "from") if start else max(end - timedelta(days=29), FIRST_DAY), end


def _filters(source: str | None, segment: str | None, live_code: str | None, advisor: str | None,
             department: str | None) -> Filters:  # fmt: skip
    return Filters(
        source=source, segment=segment, live_code=live_code, advisor=advisor, department=department
    )


@router.get("/metrics", summary="Every metric: names (en/zh), unit, numerator and denominator")
def list_metrics(principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    return {"metrics": [d.public() for d in metrics.definitions()]}


@router.get("/metrics/cohorts/retention", summary="Retention cohorts by first order or first seen")
def retention(
    session: SessionDep,
    principal: PrincipalDep,
    start: From = None,
    end: To = None,
    by: Literal["first_order", "first_seen"] = "first_order",
    unit: Literal["day", "week", "month"] = "month",
    periods: Annotated[int | None, Query(ge=1, le=90)] = None,
    source: Text = None,
    segment: Text = None,
    live_code: Text = None,
    advisor: Text = None,
    department: Text = None,
) -> dict[str, Any]:
    principal.require("read")
    start, end = _period(start, end)
    filters = _filters(source, segment, live_code, advisor, department)
    return cohorts.retention(
        session, by=by, unit=unit, start=start, end=end, periods=periods, filters=filters
    )


@router.get("/metrics/acquisition-spend", summary="Entered acquisition spend overlapping a period")
def list_spend(
    session: SessionDep, principal: PrincipalDep, start: From = None, end: To = None
) -> dict[str, Any]:
    principal.require("read")
    return {"items": [acquisition.public(r) for r in acquisition.list_spend(session, start, end)]}


@router.post("/metrics/acquisition-spend", status_code=201, summary="Enter acquisition spend (for CAC)")
def add_spend(body: SpendCreate, session: SessionDep, principal: PrincipalDep) -> SpendPublic:
    principal.require("write")
    row = acquisition.add_spend(
        session,
        channel=body.channel,
        period_start=body.period_start,
        period_end=body.period_end,
        amount_minor=body.amount_minor,
        currency_code=body.currency or get_settings().default_currency,
        note=body.note,
        actor=principal.name,
    )
    return SpendPublic(**acquisition.public(row))


@router.post("/metrics/materialise", summary="Store every metric of one brand-local day (the daily job)")
def materialise(
    session: SessionDep,
    principal: PrincipalDep,
    day: Annotated[date | None, Query(description="Default: yesterday (brand-local)")] = None,
) -> dict[str, Any]:
    principal.require("admin")
    day = check_day(day, "day") if day else local_day_of(now()) - timedelta(days=1)
    return {"day": day.isoformat(), "rows": metrics.materialise(session, day)}


@router.get("/metrics/{name}", summary="One metric over a period: value, series and breakdown")
def get_metric(
    name: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    principal: PrincipalDep,
    start: From = None,
    end: To = None,
    granularity: Literal["day", "week", "month", "all"] = "day",
    source: Text = None,
    segment: Text = None,
    live_code: Text = None,
    advisor: Text = None,
    department: Text = None,
    window_days: Annotated[int, Query(ge=1, le=365)] = 7,
    silent_days: Annotated[int, Query(ge=1, le=730)] = 90,
    goal: Annotated[str, Query(min_length=1, max_length=200)] = "Order Completed",
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    materialised: Annotated[bool, Query(description="Read stored daily values instead")] = False,
    dimension: Annotated[
        str, Query(max_length=200, description="With materialised: e.g. source:web")
    ] = "all",
) -> dict[str, Any]:
    principal.require("read")
    start, end = _period(start, end)
    if materialised:
        return metrics.stored(session, name, start, end, dimension)
    return metrics.compute(
        session,
        name,
        start=start,
        end=end,
        granularity=granularity,
        filters=_filters(source, segment, live_code, advisor, department),
        options=Options(window_days=window_days, silent_days=silent_days, goal=goal, currency=currency),
    )


@router.get("/alerts", summary="Health alerts, newest first")
def list_alerts(
    session: SessionDep,
    principal: PrincipalDep,
    status: Literal["open", "acknowledged", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    principal.require("read")
    return {"items": [alerts.alert_public(a) for a in alerts.list_alerts(session, status, limit)]}


@router.get("/alerts/rules", summary="Health rules with their thresholds")
def list_rules(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    return {"items": [alerts.rule_public(r) for r in alerts.ensure_rules(session)]}


@router.post("/alerts/rules/{key}", summary="Change a rule's threshold, parameters or switch it on/off")
def update_rule(
    key: Annotated[str, Path(max_length=64)], body: RuleUpdate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("write")
    rule = alerts.update_rule(
        session, key, threshold=body.threshold, enabled=body.enabled, params=body.params, actor=principal.name
    )
    return alerts.rule_public(rule)


@router.post("/alerts/evaluate", summary="Evaluate the health rules now (the scheduled job, on demand)")
def evaluate(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("write")
    raised = alerts.evaluate_alerts(session, now())
    return {"raised": [alerts.alert_public(a) for a in raised]}


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
def ack(
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("write")
    return alerts.alert_public(alerts.acknowledge(session, alert_id, principal.name))


def _arm(arm: ArmIn) -> ArmData:
    revenue = None if arm.revenue is None else np.asarray(arm.revenue, dtype=np.float64)
    if arm.converted is not None:
        n, conversions = len(arm.converted), sum(arm.converted)
    elif arm.n is not None and arm.conversions is not None:
        n, conversions = arm.n, arm.conversions
    else:
        assert revenue is not None
        n, conversions = len(revenue), int((revenue > 0).sum())
    return ArmData(arm.name, n, conversions, revenue, arm.silent, arm.woken)


def report_json(report: Report) -> dict[str, Any]:
    return jsonable_encoder(asdict(report))  # type: ignore[no-any-return]


@router.post("/experiments/analyze", summary="Analyse A/B/n arm data (counts, per-customer arrays or rows)")
def analyze_arms(body: AnalyzeRequest, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    if body.rows is not None:
        arms = arms_from_rows((r.arm, r.converted, r.revenue) for r in body.rows)
    else:
        arms = [_arm(a) for a in body.arms or []]
    report = analyze(arms, control=body.control, weights=body.weights, alpha=body.alpha, n_boot=body.n_boot,
                     seed=body.seed, currency=body.currency.upper())  # fmt: skip
    return report_json(report)


def _weights(raw: str | None) -> dict[str, float] | None:
    if not raw:
        return None
    out: dict[str, float] = {}
    for part in raw.split(","):
        name, _, value = part.partition(":")
        try:
            out[name.strip()] = float(value)
        except ValueError as exc:
            raise ValidationFailed("weights look like A:0.5,B:0.5", field="weights") from exc
    return out


@router.get("/experiments/{journey_id}", summary="A/B/n results of a journey from its Journey Entered events")
def journey_experiment(
    journey_id: Annotated[str, Path(min_length=1, max_length=200)],
    session: SessionDep,
    principal: PrincipalDep,
    goal: Annotated[str, Query(min_length=1, max_length=200)] = "Order Completed",
    window_days: Annotated[int, Query(ge=1, le=365)] = 7,
    silent_days: Annotated[int, Query(ge=1, le=730)] = 90,
    control: Text = None,
    weights: Annotated[
        str | None, Query(max_length=500, description="Intended split, e.g. A:0.45,B:0.45,holdout:0.1")
    ] = None,
    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
    n_boot: Annotated[int, Query(ge=0, le=20000)] = 2000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    principal.require("read")
    options = metrics.check_options(Options(window_days=window_days, silent_days=silent_days, goal=goal))
    arms, recorded = experiment_data.journey_arms(session, journey_id, options)
    report = analyze(arms, control=control, weights=_weights(weights) or recorded, alpha=alpha, n_boot=n_boot,
                     seed=seed, currency=get_settings().default_currency)  # fmt: skip
    first, last = experiment_data.entered_between(session, journey_id)
    return {"journey_id": journey_id, "goal": goal, "window_days": window_days, "silent_days": silent_days,
            "entered_from": first, "entered_to": last, **report_json(report)}  # fmt: skip
