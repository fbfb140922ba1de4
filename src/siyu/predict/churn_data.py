"""Churn risk on the brand's data: the feature matrix of buyers as of a moment, the time split (features
as of now - N days, label = no counted order in the N days since) and scoring now.

Features are point in time (purchase history, BG/NBD scores fitted on data up to that moment, activity
windows from the daily rollups, tags carried then). Customer age is left out: imported customers are
created today with years of orders, so `created_at` says little. Current-state tables (RFM scores,
lifecycle stage) are left out: they are computed now, so as training features they would leak the
label; they are monotone functions of the recency, frequency and spend figures the trees already see.
With too few buyers the risk comes from BG/NBD alone: 1 - P(alive)(1 - S(N)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from siyu.analytics.sqltime import local_day_of
from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings
from siyu.predict import churn
from siyu.predict.features import (
    OrderHistory,
    Vector,
    activity,
    align,
    buyers_between,
    epoch_day,
    order_history,
    tag_counts,
)
from siyu.predict.valuation import Valuation, value

FEATURES = [
    "orders", "purchase_days", "days_since_last_purchase", "days_since_first_purchase",
    "mean_order_minor", "total_minor", "p_alive", "expected_90d", "p_no_purchase",
    "events_7d", "events_30d", "events_90d", "active_days_30d", "active_days_90d", "engaged_90d",
    "days_since_interaction", "tags",
]  # fmt: skip


def today_of(at: datetime) -> int:
    return epoch_day(local_day_of(at))


def valuation_at(history: OrderHistory, at: datetime, s: Settings) -> Valuation | None:
    return value(
        history,
        today_of(at),
        churn_days=s.predict_churn_days,
        alive_threshold=s.predict_alive_threshold,
        clv_months=s.predict_clv_months,
        monthly_discount=s.predict_clv_monthly_discount,
    )


def matrix(session: Session, history: OrderHistory, at: datetime, scores: Valuation | None) -> np.ndarray:
    """One row per buyer of `history`, columns FEATURES (NaN where unknown: the trees handle it)."""
    ids, today = history.customer_id, today_of(at)
    n = ids.shape[0]
    missing = np.full(n, np.nan)
    columns: dict[str, Vector] = {
        "orders": history.orders.astype(np.float64),
        "purchase_days": history.purchase_days.astype(np.float64),
        "days_since_last_purchase": (today - history.last_day).astype(np.float64),
        "days_since_first_purchase": (today - history.first_day).astype(np.float64),
        "mean_order_minor": history.total_minor / np.maximum(history.orders, 1),
        "total_minor": history.total_minor.astype(np.float64),
        "p_alive": scores.p_alive if scores else missing,
        "expected_90d": scores.expected_90d if scores else missing,
        "p_no_purchase": scores.no_purchase if scores else missing,
        "tags": align(ids, tag_counts(session, at)),
    }
    for name, keyed in activity(session, at).items():
        columns[name] = align(ids, keyed, np.nan if name == "days_since_interaction" else 0.0)
    return np.column_stack([columns[name] for name in FEATURES]) if n else np.zeros((0, len(FEATURES)))


@dataclass(frozen=True)
class ChurnOutcome:
    risk: Vector | None  # per buyer of the current history
    metrics: dict[str, Any]


def churn_risk(
    session: Session,
    now: datetime,
    history: OrderHistory,
    scores: Valuation | None,
    s: Settings,
) -> ChurnOutcome:
    """Train on the time split when there are enough buyers, then score the current buyers."""
    cutoff = now - timedelta(days=s.predict_churn_days)
    past = order_history(session, cutoff)
    reason = f"fewer than {s.predict_churn_min_customers} buyers {s.predict_churn_days} days ago"
    if past.customer_id.shape[0] >= s.predict_churn_min_customers:
        past_scores = valuation_at(past, cutoff, s)
        X = matrix(session, past, cutoff, past_scores)
        bought = buyers_between(session, cutoff, now)
        labels = (~np.isin(past.customer_id, bought)).astype(np.int64)
        try:
            baseline = past_scores.no_purchase if past_scores is not None else None
            model = churn.train(
                X, labels, FEATURES, seed=0, max_train=s.predict_churn_max_train, baseline=baseline
            )
        except ValidationFailed as exc:
            reason = exc.message
        else:
            metrics: dict[str, Any] = {"method": "classifier", "cutoff": cutoff.isoformat()}
            metrics.update(model.report.as_dict())
            metrics["bgnbd_auc"] = metrics.pop("baseline_auc")
            current = matrix(session, history, now, scores)
            return ChurnOutcome(model.risk(current) if len(current) else np.zeros(0), metrics)
    if scores is None:
        return ChurnOutcome(None, {"method": None, "reason": reason})
    return ChurnOutcome(scores.no_purchase, {"method": "bgnbd", "reason": reason})
