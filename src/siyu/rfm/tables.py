"""Each customer's current RFM scores and tier, and the runs (settings + cut points) that produced them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime


class RfmScore(Base):
    __tablename__ = "rfm_scores"
    __table_args__ = (Index("ix_rfm_scores_tier", "tier"),)

    # No foreign key: this table is derived and rewritten whole by every full run, and on PostgreSQL the
    # per-row referential check cost more than the insert itself (measured: 2–3× slower at 300k rows).
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recency_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary_minor: Mapped[int] = mapped_column(BigInteger)
    r: Mapped[int] = mapped_column(SmallInteger)
    f: Mapped[int] = mapped_column(SmallInteger)
    m: Mapped[int] = mapped_column(SmallInteger)
    tier: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RfmRun(Base):
    """One full computation: the settings used and the cut points that incremental updates reuse."""

    __tablename__ = "rfm_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settings: Mapped[dict[str, Any]] = mapped_column(Json)
    thresholds: Mapped[dict[str, Any]] = mapped_column(Json)
    customers: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(nullable=True)
