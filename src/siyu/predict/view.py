"""A customer's predictions as the profile shows them (no refresh has covered the customer yet: `None`);
CLV in the brand's currency, the next purchase as a median date with its 10th-90th percentile interval."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.core.settings import get_settings
from siyu.predict.tables import Prediction


def predictions_of(session: Session, customer_id: int) -> dict[str, Any] | None:
    row = session.get(Prediction, customer_id)
    if row is None:
        return None
    clv = None if row.clv_minor is None else str(from_minor(row.clv_minor, get_settings().default_currency))
    return {
        "p_alive": row.p_alive,
        "expected_purchases_90d": row.expected_purchases_90d,
        "clv": clv,
        "clv_minor": row.clv_minor,
        "next_purchase": {
            "expected": row.next_purchase_at,
            "low": row.next_purchase_low,
            "high": row.next_purchase_high,
        },
        "churn_risk": row.churn_risk,
        "best_send_hour": row.best_send_hour,
        "replenish": {
            "expected_replenish_date": row.replenish_on,
            "remind_on": row.replenish_remind_on,
            "product": row.replenish_product,
        },
        "run_id": row.run_id,
        "computed_at": row.computed_at,
    }
