"""What the predictions API returns: a refresh run with its fitted models and held-out metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PredictionRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    computed_at: datetime
    params: dict[str, Any] = Field(
        description="Fitted models: bgnbd {r, alpha, a, b, log_likelihood} (time in days), spend "
        "(Gamma-Gamma p, q, gamma or own_mean), send_hour {kappa, prior_best_hour}, replenish cycles, "
        "the predict_* settings used"
    )
    metrics: dict[str, Any] = Field(
        description="customers, buyers, churn {method, auc, brier, log_loss, base_rate, reliability, "
        "bgnbd_auc}, high_potential_cut_minor, tags {name: added, removed, members}"
    )
    customers: int = Field(description="Customers given a prediction row")
    seconds: float | None = Field(description="How long the refresh took")
