"""Operates the loaded demo brand through the capabilities' services, one transaction per step: owners,
consents, tags, RFM, lifecycle, predictions, segments, journeys, spend, metrics, alerts (re-runs add nothing).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from siyu.core.database import unit_of_work
from siyu.core.pii import get_vault
from siyu.demo import audiences, automation, crm, relations, reporting, taxonomy
from siyu.demo.generator import DemoCustomer
from siyu.demo.team import SUPERVISOR
from siyu.lifecycle import service as lifecycle
from siyu.rfm import service as rfm

PREDICTIONS = "siyu.predict.service"


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str


@dataclass
class OperationsReport:
    steps: list[StepResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # optional steps that could not run, and why


@dataclass(frozen=True)
class History:
    population: Sequence[DemoCustomer]
    seed: int
    first_day: date  # brand-local first and last day of the generated history
    last_day: date
    end: datetime  # the anchor: nothing happened at or after it


class _Runner:
    def __init__(self, report: OperationsReport, on_step: Callable[[str], None] | None) -> None:
        self.report, self.on_step = report, on_step

    def step(self, name: str, work: Callable[[Session], str]) -> None:
        if self.on_step is not None:
            self.on_step(name)
        started = time.monotonic()
        with unit_of_work() as session:
            detail = work(session)
        self.report.steps.append(StepResult(name, time.monotonic() - started, detail))


def predictions_available() -> bool:
    """Whether this build has the prediction refresh service."""
    try:
        importlib.import_module(PREDICTIONS)
    except ModuleNotFoundError as exc:
        if exc.name is not None and PREDICTIONS.startswith(exc.name):
            return False
        raise
    return True


def _predict(session: Session, now: datetime) -> str:
    service: Any = importlib.import_module(PREDICTIONS)
    done = service.refresh_all(session, now)
    tags = done.run.metrics.get("tags", {})
    shown = " · ".join(f"{name} {t.get('members', 0):,}" for name, t in tags.items())
    return f"run {done.run.id}: {done.run.customers:,} customers; {shown}"


def _materialise(session: Session, *, day: date) -> str:
    return f"{reporting.materialise_day(session, day):,} rows"


def run(
    history: History,
    now: datetime,
    *,
    metrics_days: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> OperationsReport:
    """Operate the loaded brand at `now` (see the module docstring); one transaction per step."""
    report = OperationsReport()
    runner = _Runner(report, on_step)
    vault = get_vault()
    plan = relations.plan(history.population, history.seed, history.end)
    ids: dict[str, Any] = {}

    def people(session: Session) -> str:
        done = crm.write(session, vault, plan, now)
        ids["staff"] = done.staff
        return f"{len(done.staff)} staff; {done.owners:,} new owners, {done.consents:,} new consents"

    def tags(session: Session) -> str:
        ids["tags"] = taxonomy.ensure(session)
        added = taxonomy.apply_interests(session, vault, ids["tags"], plan.interests, now)
        return f"{len(ids['tags'])} tags; {added:,} interest tags noted by advisors"

    def rule_tags(session: Session) -> str:
        return f"{taxonomy.build_rules(session, ids['tags'], now):,} holders changed"

    def segments(session: Session) -> str:
        ids["segments"] = audiences.ensure(session, ids["tags"], now)
        return f"{len(ids['segments'])} segments built"

    def journeys(session: Session) -> str:
        saved = automation.ensure_templates(session, now)
        params = automation.parameters(ids["segments"], ids["tags"], ids["staff"][SUPERVISOR.userid])
        made = automation.ensure_journeys(session, params, now)
        return f"{saved} templates saved; {len(made)} journeys"

    def spend(session: Session) -> str:
        plan_spend = reporting.spend_plan(history.population, history.first_day, history.last_day)
        return f"{reporting.ensure_spend(session, plan_spend)} spend entries"

    runner.step("staff, owners, consents", people)
    runner.step("tags", tags)
    runner.step("RFM", lambda s: f"run {rfm.recompute_all(s, now).id}")
    runner.step("lifecycle", lambda s: f"{lifecycle.sweep(s, now, full=True):,} stage changes")
    if predictions_available():
        try:
            runner.step("predictions", lambda s: _predict(s, now))
        except Exception as exc:  # an optional capability: the demo goes on, the problem is reported
            report.problems.append(f"predictions failed: {type(exc).__name__}: {exc}"[:500])
    else:
        report.problems.append(f"predictions skipped: {PREDICTIONS} is not in this build")
    runner.step("rule tags", rule_tags)
    runner.step("segments", segments)
    runner.step("journeys", journeys)
    runner.step("acquisition spend", spend)
    for day in reporting.metric_days(now, metrics_days):
        runner.step(f"metrics {day:%Y-%m-%d}", partial(_materialise, day=day))
    runner.step("alerts", lambda s: ", ".join(reporting.evaluate_alerts(s, now)) or "none raised")
    return report
