"""A customer's lifecycle stage as the profile shows it (no stage computed yet: `None`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.lifecycle.stages import LABELS
from siyu.lifecycle.tables import LifecycleState


def stage_of(session: Session, customer_id: int) -> dict[str, Any] | None:
    row = session.get(LifecycleState, customer_id)
    if row is None:
        return None
    return {
        "stage": row.stage,
        "label": LABELS.get(row.stage, row.stage),
        "since": row.since,
        "previous": row.previous_stage,
        "previous_label": None if row.previous_stage is None else LABELS.get(row.previous_stage),
    }
