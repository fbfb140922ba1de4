"""What the lifecycle API returns: customers per stage, the rules in force, the last sweep."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class StageCountPublic(BaseModel):
    stage: str = Field(description="Stored stage code, e.g. dormant")
    label: str = Field(description="Chinese label, e.g. 沉睡")
    customers: int


class LifecycleRulesPublic(BaseModel):
    new_days: int
    dormant_days: int
    churn_days: int
    category_cycles: dict[str, int]
    cycle_factor: float


class LifecyclePublic(BaseModel):
    customers: int = Field(description="Customers with a stage")
    stages: list[StageCountPublic]
    rules: LifecycleRulesPublic
    last_sweep_at: datetime | None


class SweepPublic(BaseModel):
    changed: int = Field(description="Customers whose stage changed")
    seconds: float
