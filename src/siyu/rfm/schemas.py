"""What the RFM API returns: the last run (settings, cut points, timing) and customers per tier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RfmTierPublic(BaseModel):
    tier: str = Field(description="Stored tier code, e.g. important_value")
    label: str = Field(description="Chinese label, e.g. 重要价值")
    customers: int
    share: float = Field(description="Share of the scored customers, 0..1")


class RfmRunPublic(BaseModel):
    id: int
    computed_at: datetime
    settings: dict[str, Any] = Field(description="Window, order filter, method, thresholds, high score")
    cut_points: dict[str, list[float | None]] = Field(
        description="Value needed for scores 2..5 per dimension (recency: at most that many days; "
        "monetary in minor units)"
    )
    customers: int = Field(description="Customers scored by the run")
    seconds: float | None = Field(description="How long the run took")


class RfmPublic(BaseModel):
    run: RfmRunPublic | None = Field(description="The last full run; null before the first")
    customers: int = Field(description="Customers with a score now (full run plus incremental updates)")
    tiers: list[RfmTierPublic]
