"""Experiment arms read from the event log. Contract with the journey runner: when a customer enters a
journey it records `Journey Entered` with properties `journey_id`, `arm` (`holdout` = gets nothing) and
optionally `arm_weight` (the intended share of that arm). A customer's first entry decides their arm."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.analytics.conversion import acted_within, goal_within, silent_before
from siyu.analytics.definitions import JOURNEY_ENTERED, Options
from siyu.analytics.experiments import ArmData
from siyu.analytics.population import clean
from siyu.analytics.sqltime import ts_add
from siyu.commerce.tables import Order
from siyu.core.errors import NotFound
from siyu.core.settings import get_settings
from siyu.events.tables import Event

E = Event.__table__.c
O = Order.__table__.c  # noqa: E741
DEFAULT_ARM = "default"


def _entries(session: Session, journey_id: str) -> tuple[dict[int, str], dict[str, float]]:
    """Each customer's arm (from their first entry) and the intended weight per arm, when recorded."""
    journey = E.properties["journey_id"].as_string()
    rows = session.execute(
        select(
            E.customer_id,
            E.timestamp,
            E.properties["arm"].as_string(),
            E.properties["arm_weight"].as_string(),
        )
        .where(E.name == JOURNEY_ENTERED, journey == journey_id)
        .order_by(E.timestamp, E.id)
    )
    arms: dict[int, str] = {}
    weights: dict[str, float] = {}
    for customer, _at, arm, weight in rows:
        name = str(arm) if arm not in (None, "") else DEFAULT_ARM
        arms.setdefault(int(customer), name)
        try:
            if weight is not None and float(weight) > 0:
                weights[name] = float(weight)
        except ValueError:
            pass
    return arms, weights


def journey_arms(
    session: Session, journey_id: str, options: Options | None = None
) -> tuple[list[ArmData], dict[str, float] | None]:
    """Per arm: customers, conversions (goal within the window after entering), revenue per customer in
    the window (spend of completed orders, minor units) and wake-up of the customers silent on entry."""
    options = options or Options()
    arm_of, weights = _entries(session, clean(journey_id, "journey_id"))
    if not arm_of:
        raise NotFound(f"no Journey Entered events for journey {journey_id!r}", field="journey_id")
    kind = session.get_bind().dialect.name
    journey = E.properties["journey_id"].as_string()
    entries = (
        select(E.customer_id.label("customer_id"), func.min(E.timestamp).label("at"))
        .where(E.name == JOURNEY_ENTERED, journey == journey_id)
        .group_by(E.customer_id)
        .subquery("entries")
    )
    c = entries.c
    days = options.window_days
    currency = (options.currency or get_settings().default_currency).upper()
    revenue = (
        select(func.coalesce(func.sum(O.total_minor - O.refunded_minor), 0))
        .where(
            O.customer_id == c.customer_id,
            O.completed_at.is_not(None),
            O.status != "cancelled",
            O.currency == currency,
            O.completed_at >= c.at,
            O.completed_at <= ts_add(kind, c.at, days),
        )
        .scalar_subquery()
    )
    silent = silent_before(kind, session, c.customer_id, c.at, options.silent_days)
    query = select(
        c.customer_id,
        case((goal_within(kind, c.customer_id, c.at, options.goal, days, journey_id), 1), else_=0),
        revenue,
        case((silent, 1), else_=0),
        case((silent & acted_within(kind, session, c.customer_id, c.at, days), 1), else_=0),
    ).order_by(c.customer_id)
    per_arm: dict[str, dict[str, list[Any]]] = {}
    for customer, converted, money, was_silent, woke in session.execute(query):
        bucket = per_arm.setdefault(arm_of[int(customer)], {"conv": [], "rev": [], "silent": [], "woke": []})
        bucket["conv"].append(int(converted))
        bucket["rev"].append(float(money or 0))
        bucket["silent"].append(int(was_silent))
        bucket["woke"].append(int(woke))
    arms = [
        ArmData(
            name,
            len(data["conv"]),
            sum(data["conv"]),
            np.asarray(data["rev"], dtype=np.float64),
            silent=sum(data["silent"]),
            woken=sum(data["woke"]),
        )
        for name, data in sorted(per_arm.items())
    ]
    complete = weights and all(a.name in weights for a in arms)
    return arms, (weights if complete else None)


def entered_between(session: Session, journey_id: str) -> tuple[datetime | None, datetime | None]:
    clean(journey_id, "journey_id")
    journey = E.properties["journey_id"].as_string()
    row = session.execute(
        select(func.min(E.timestamp), func.max(E.timestamp)).where(
            E.name == JOURNEY_ENTERED, journey == journey_id
        )
    ).one()
    return row[0], row[1]
