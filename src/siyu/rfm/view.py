"""A customer's RFM scores as the profile shows them (no score: `None`, the customer bought nothing in
the window)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.core.settings import get_settings
from siyu.rfm.tables import RfmScore
from siyu.rfm.tiers import tier_label


def rfm_of(session: Session, customer_id: int) -> dict[str, Any] | None:
    row = session.get(RfmScore, customer_id)
    if row is None:
        return None
    return {
        "r": row.r,
        "f": row.f,
        "m": row.m,
        "tier": row.tier,
        "tier_label": tier_label(row.tier),
        "recency_days": row.recency_days,
        "frequency": row.frequency,
        "monetary": str(from_minor(row.monetary_minor, get_settings().default_currency)),
        "monetary_minor": row.monetary_minor,
        "computed_at": row.computed_at,
    }
