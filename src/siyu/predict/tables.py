"""Each customer's latest predictions (one row, replaced by every refresh) and the refresh runs that
produced them (model parameters, held-out metrics, timing)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Float, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime


class Prediction(Base):
    """No foreign keys: a refresh rewrites every row, and per-row checks would double its cost on
    PostgreSQL (as measured for `rfm_scores`); rows come only from customers that exist."""

    __tablename__ = "predictions"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    run_id: Mapped[int] = mapped_column(Integer)
    p_alive: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_purchases_90d: Mapped[float | None] = mapped_column(Float, nullable=True)
    clv_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    next_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_purchase_low: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_purchase_high: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    churn_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_send_hour: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    replenish_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    replenish_remind_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    replenish_product: Mapped[str | None] = mapped_column(String(128), nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PredictionRun(Base):
    """One refresh: `params` holds the fitted models, `metrics` their quality (log-likelihood, churn AUC,
    Brier score, reliability table) and the tag counts."""

    __tablename__ = "prediction_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json)
    customers: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
