"""Prediction refresh: fit the models on the brand's current data and write every customer's predictions
(P(alive), expected purchases, CLV, next purchase window, churn risk, best send hour, replenish date),
the predictive tags and the `expected_replenish_date` trait, as one `prediction_runs` row.

`refresh_all` only flushes; the caller (API route, CLI command, worker job) owns the transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.settings import Settings, get_settings
from siyu.predict import engagement, features, purchase_lines, replenish, store
from siyu.predict.churn_data import churn_risk, today_of, valuation_at
from siyu.predict.features import EPOCH, IntArray, Vector
from siyu.predict.send_hour import best_send_hours
from siyu.predict.tables import PredictionRun
from siyu.segments import queue

MAX_CYCLES_SHOWN = 100  # products listed with their cycle in a run's params


@dataclass(frozen=True)
class Refresh:
    run: PredictionRun
    touched: list[int]  # customers whose predictive tags or replenish trait changed (segments re-check)


def requeue(session: Session, done: Refresh, now: datetime) -> None:
    """Queue the customers a refresh changed for segment evaluation (their tags or trait moved)."""
    queue.enqueue_now(session, done.touched, now, "recheck")


def latest_run(session: Session) -> PredictionRun | None:
    return session.scalars(select(PredictionRun).order_by(PredictionRun.id.desc()).limit(1)).first()


def _spread(ids: IntArray, keys: IntArray, values: Vector) -> Vector:
    """Values of the buyers (`keys`, sorted) placed on the population's rows; NaN elsewhere."""
    return features.align(ids, (keys, values), np.nan)


def _replenish(
    session: Session, now: datetime, s: Settings
) -> tuple[replenish.Due, list[str], dict[str, Any]]:
    found = purchase_lines.catalogue(session)
    history = purchase_lines.product_history(session, now, found.codes())
    estimated, buyers = replenish.estimate_cycles(
        history, len(found.products), min_buyers=s.predict_replenish_min_buyers
    )
    by_category = {**s.lifecycle_category_cycles, **s.predict_replenish_cycles}
    cycles, origin = replenish.resolve_cycles(
        found.products,
        found.categories,
        estimated,
        by_product=s.predict_replenish_cycles,
        by_category=by_category,
    )
    due = replenish.due_dates(
        history, cycles, today=today_of(now), remind_days=s.predict_replenish_remind_days
    )
    shown = {
        p: {"days": round(float(cycles[i]), 1), "origin": origin[i], "repeat_buyers": int(buyers[i])}
        for i, p in enumerate(found.products)
        if origin[i] is not None
    }
    params = {
        "products": len(found.products),
        "with_cycle": len(shown),
        "cycles": dict(list(shown.items())[:MAX_CYCLES_SHOWN]),
        "remind_days": s.predict_replenish_remind_days,
    }
    return due, found.products, params


def _send_hours(
    session: Session, ids: IntArray, now: datetime, s: Settings
) -> tuple[IntArray, dict[str, Any]]:
    groups, names = engagement.stage_groups(session, ids)
    counts = engagement.local_hours(session, ids, now, s.predict_send_hour_lookback_days)
    result = best_send_hours(groups, counts.customer_id, counts.hour, counts.count, group_count=len(names))
    prior = {name: int(np.argmax(result.group_means[i])) for i, name in enumerate(names)}
    params = {"kappa": result.kappa, "prior_best_hour": prior, "with_history": int(result.observed.sum())}
    return result.best_hour, params


def _within(days: Vector, limit: float) -> Vector:
    """Waits beyond `limit` days become unknown (NaN)."""
    return np.where(days <= limit, days, np.nan)


def _day(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def _potential_cut(clv: Vector, alive: Vector, s: Settings) -> int | None:
    eligible = np.isfinite(clv) & (alive >= s.predict_alive_threshold) & (clv > 0)
    if not eligible.any():
        return None
    return int(np.ceil(np.quantile(clv[eligible], 1 - s.predict_high_potential_share)))


def refresh_all(session: Session, now: datetime) -> Refresh:
    """Recompute every customer's predictions, predictive tags and replenish trait."""
    started = time.perf_counter()
    s = get_settings()
    ids = features.population(session)
    history = features.order_history(session, now)
    scores = valuation_at(history, now, s)
    churn = churn_risk(session, now, history, scores, s)
    hours, hour_params = _send_hours(session, ids, now, s)
    due, products, replenish_params = _replenish(session, now, s)
    buyers = history.customer_id
    nan = np.full(ids.shape[0], np.nan)
    column = {
        "p_alive": _spread(ids, buyers, scores.p_alive) if scores else nan,
        "expected": _spread(ids, buyers, scores.expected_90d) if scores else nan,
        "clv": _spread(ids, buyers, scores.clv_minor) if scores else nan,
        "next": _spread(ids, buyers, scores.next_expected) if scores else nan,
        "low": _spread(ids, buyers, scores.next_low) if scores else nan,
        "high": _spread(ids, buyers, scores.next_high) if scores else nan,
        "churn": _spread(ids, buyers, churn.risk) if churn.risk is not None else nan,
    }
    run = PredictionRun(computed_at=now, params={}, metrics={}, customers=int(ids.shape[0]))
    session.add(run)
    session.flush()
    limit = float(s.predict_next_purchase_max_days)
    on, remind, product = _replenish_columns(ids, due, products)
    store.replace_all(
        session,
        run.id,
        now,
        store.Columns(
            customer_id=ids,
            p_alive=column["p_alive"],
            expected_90d=column["expected"],
            clv_minor=column["clv"],
            next_days=_within(column["next"], limit),
            low_days=_within(column["low"], limit),
            high_days=_within(column["high"], limit),
            churn_risk=column["churn"],
            best_send_hour=hours,
            replenish_day=on,
            remind_day=remind,
            replenish_product=product,
        ),
    )
    cut = _potential_cut(column["clv"], column["p_alive"], s)
    bind = {"churn": s.predict_churn_threshold, "clv": cut if cut is not None else 2**62,
            "alive": s.predict_alive_threshold}  # fmt: skip
    tag_counts, touched = store.sync_tags(session, bind, now, reason=f"prediction run {run.id}")
    replenish_due = {c: _day(d) for c, d in zip(ids.tolist(), on.tolist(), strict=True) if d >= 0}
    changed = store.sync_replenish_trait(session, replenish_due, now)
    run.params = {
        **(scores.params if scores else {"bgnbd": None, "spend": None}),
        "send_hour": hour_params,
        "replenish": replenish_params,
        "settings": _settings(s),
    }
    run.metrics = {
        "customers": int(ids.shape[0]),
        "buyers": int(buyers.shape[0]),
        "churn": churn.metrics,
        "high_potential_cut_minor": cut,
        "tags": tag_counts,
        "replenish_traits_changed": len(changed),
    }
    run.seconds = round(time.perf_counter() - started, 3)
    session.flush()
    return Refresh(run, sorted(touched.union(changed)))


def _replenish_columns(
    ids: IntArray, due: replenish.Due, products: list[str]
) -> tuple[IntArray, IntArray, list[str | None]]:
    """Replenish day, remind day (-1: none) and product for every customer of `ids` (sorted)."""
    n = ids.shape[0]
    on = np.full(n, -1, dtype=np.int64)
    remind = np.full(n, -1, dtype=np.int64)
    product: list[str | None] = [None] * n
    rows = np.searchsorted(ids, due.customer)
    hit = rows < n
    hit[hit] = ids[rows[hit]] == due.customer[hit]  # customers merged away since have no row
    on[rows[hit]], remind[rows[hit]] = due.due_day[hit], due.remind_day[hit]
    for row, code in zip(rows[hit].tolist(), due.product[hit].tolist(), strict=True):
        product[row] = products[code]
    return on, remind, product


def _settings(s: Settings) -> dict[str, Any]:
    return {name: getattr(s, name) for name in type(s).model_fields if name.startswith("predict_")}
