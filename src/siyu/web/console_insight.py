"""The insight page: KPI tiles for a chosen period (new and active customers, repurchase rate, AOV, GMV,
LTV/CAC), RFM tier and lifecycle stage distributions, a retention cohort table and open health alerts
with the numbers behind them — all from the analytics, RFM and lifecycle services.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import alerts, cohorts, metrics
from siyu.analytics.alert_rules import KINDS
from siyu.analytics.sqltime import local_day_of
from siyu.core.clock import now
from siyu.core.errors import SiyuError, ValidationFailed
from siyu.core.settings import get_settings
from siyu.lifecycle import service as lifecycle
from siyu.rfm import service as rfm
from siyu.web import i18n
from siyu.web.deps import SessionDep
from siyu.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)
KPIS = ("new_customers", "active_customers", "repurchase_rate", "aov", "gmv", "ltv_cac")
PRESETS = (7, 30, 90, 365)
COHORT_SPANS = {"month": 6, "week": 8}


def _day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: a day is written YYYY-MM-DD", field=field) from exc


def period(start: str | None, end: str | None, days: int | None) -> tuple[date, date]:
    """The chosen brand-local days: `from`/`to`, or the last `days` days, or the last 30 days."""
    last = _day(end, "to") or local_day_of(now())
    first = _day(start, "from")
    if first is None:
        first = last - timedelta(days=(days if days in PRESETS else 30) - 1)
    metrics.check_period(first, last)
    return first, last


DETAIL_UNITS = {
    "repurchase_rate": ("count", "count"),
    "aov": ("minor", "count"),
    "ltv_cac": ("minor", "minor"),
}


def shown(name: str, unit: str, value: float | None) -> str:
    """A metric value as operators read it: a count, a percentage, money, or a multiple (LTV/CAC)."""
    if value is None:
        return "—"
    if name == "ltv_cac" and unit == "ratio":
        return f"{value:.2f}×"
    if unit == "ratio":
        return i18n.format_percent(value)
    if unit == "minor":
        return i18n.format_minor(value, get_settings().default_currency)
    return i18n.format_number(round(value)) if float(value).is_integer() else f"{value:,.2f}"


def _tile(page: Page, session: Session, name: str, first: date, last: date) -> dict[str, Any]:
    """One KPI over the period, and for ratios the numerator and denominator behind it."""
    result = metrics.compute(session, name, start=first, end=last, granularity="all")
    detail = None
    if name in DETAIL_UNITS and result["denominator"] is not None:
        top, bottom = DETAIL_UNITS[name]
        detail = page.t(
            f"kpi_{name}_detail",
            numerator=shown(name, top, result["numerator"]),
            denominator=shown(name, bottom, result["denominator"]),
        )
    return {"name": name, "value": shown(name, result["unit"], result["value"]), "detail": detail}


def _cohort_start(last: date, unit: str) -> date:
    if unit == "week":
        return last - timedelta(days=last.weekday(), weeks=COHORT_SPANS["week"] - 1)
    month = last.year * 12 + last.month - 1 - (COHORT_SPANS["month"] - 1)
    return date(month // 12, month % 12 + 1, 1)


def _distributions(session: Session) -> dict[str, Any]:
    tiers = rfm.summary(session)
    stages = lifecycle.summary(session)
    total = stages["customers"]
    for stage in stages["stages"]:
        stage["share"] = stage["customers"] / total if total else 0.0
    return {"rfm": tiers, "lifecycle": stages}


def _alerts(session: Session, lang: str) -> list[dict[str, Any]]:
    out = []
    for row in alerts.list_alerts(session, "open", 20):
        alert = alerts.alert_public(row)
        kind = KINDS.get(alert["rule"])
        rule = alert["rule"] if kind is None else (kind.label_zh if lang == "zh" else kind.label)
        message = alert["message_zh"] if lang == "zh" else alert["message"]
        out.append({**alert, "rule_label": rule, "text": message})
    return out


@router.get("/insight")
def insight_page(
    page: PageDep,
    session: SessionDep,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    days: str | None = None,
    cohort: str = "month",
) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    cohort = cohort if cohort in COHORT_SPANS else "month"
    try:
        first, last = period(start, end, int(days) if days and days.isdecimal() else None)
        tiles = [_tile(page, session, name, first, last) for name in KPIS]
        retention = cohorts.retention(
            session, by="first_order", unit=cohort, start=_cohort_start(last, cohort), end=last,  # type: ignore[arg-type]
            periods=COHORT_SPANS[cohort],
        )  # fmt: skip
    except SiyuError as exc:
        return page.failed(exc)
    context = {
        "first": first,
        "last": last,
        "days": (last - first).days + 1,
        "presets": PRESETS,
        "tiles": tiles,
        "cohort": cohort,
        "retention": retention,
        "periods": list(range(COHORT_SPANS[cohort])),
        "alerts": _alerts(session, page.lang),
        **_distributions(session),
    }
    return page.render("insight.html", context)
