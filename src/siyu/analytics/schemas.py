"""Request and response bodies of the analytics API (acquisition spend, alert rules, experiments)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Money = Annotated[float, Field(allow_inf_nan=False, ge=-(10**15), le=10**15)]
Weight = Annotated[float, Field(allow_inf_nan=False, gt=0, le=10**6)]


class SpendCreate(BaseModel):
    channel: str = Field(min_length=1, max_length=200, description="A source name, or live_code:<code>")
    period_start: date = Field(description="First brand-local day the money was spent on (inclusive)")
    period_end: date = Field(description="Last brand-local day (inclusive); spread evenly over the days")
    amount_minor: int = Field(ge=0, le=10**15, description="Amount in minor units (分 for CNY)")
    currency: str | None = Field(None, min_length=3, max_length=3, description="Default: brand currency")
    note: str | None = Field(None, max_length=500)


class SpendPublic(BaseModel):
    id: int
    channel: str
    period_start: date
    period_end: date
    amount_minor: int
    currency: str
    note: str | None
    created_at: datetime
    created_by: str


class RuleUpdate(BaseModel):
    threshold: FiniteFloat | None = Field(
        None, description="The rule's threshold (see GET /api/v1/alerts/rules)"
    )
    enabled: bool | None = None
    params: dict[str, Any] | None = Field(None, description="Whole-number parameters, e.g. {'weeks': 3}")


class ArmIn(BaseModel):
    """Either counts (`n`, `conversions`) or one 0/1 per customer in `converted`; `revenue` per customer."""

    name: str = Field(min_length=1, max_length=100)
    n: int | None = Field(None, ge=0)
    conversions: int | None = Field(None, ge=0)
    converted: list[int] | None = Field(None, max_length=2_000_000)
    revenue: list[FiniteFloat] | None = Field(
        None, max_length=2_000_000, description="Minor units per customer"
    )
    silent: int | None = Field(None, ge=0, description="Customers silent on entry (for the wake-up rate)")
    woken: int | None = Field(None, ge=0, description="Of those, customers who acted within the window")

    @model_validator(mode="after")
    def _counts_or_flags(self) -> ArmIn:
        if self.converted is None and (self.n is None or self.conversions is None) and self.revenue is None:
            raise ValueError("give n and conversions, or converted (one 0/1 per customer), or revenue")
        if self.converted is not None and any(v not in (0, 1) for v in self.converted):
            raise ValueError("converted holds 0 or 1 per customer")
        return self


class RowIn(BaseModel):
    arm: str = Field(min_length=1, max_length=100)
    converted: bool
    revenue: Money | None = None


class AnalyzeRequest(BaseModel):
    arms: list[ArmIn] | None = Field(None, max_length=20)
    rows: list[RowIn] | None = Field(None, max_length=2_000_000)
    control: str | None = Field(None, description="Arm the others are compared with (default control/A)")
    weights: dict[str, Weight] | None = Field(None, description="Intended share per arm (SRM check)")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    n_boot: int = Field(2000, ge=0, le=20000, description="Bootstrap resamples for revenue (0 = none)")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    currency: str = Field("CNY", min_length=3, max_length=3)

    @model_validator(mode="after")
    def _one_input(self) -> AnalyzeRequest:
        if (self.arms is None) == (self.rows is None):
            raise ValueError("give either arms or rows")
        return self
