"""Tables of the analytics capability: materialised daily metrics, entered acquisition spend, health-alert
rules with their operator-set thresholds, and the alerts raised (one per rule and period)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime


class DailyMetric(Base):
    """One metric on one brand-local day for one dimension key (`all`, `source:3`, `channel:sms`, …).
    Ratios keep numerator and denominator so longer periods can be re-aggregated exactly."""

    __tablename__ = "daily_metrics"

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AcquisitionSpend(Base):
    """Money spent to acquire customers through one channel over a period of brand-local days
    (inclusive); CAC spreads it evenly over the days. `channel` is a source name or `live_code:<code>`."""

    __tablename__ = "acquisition_spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class AlertRule(Base):
    """A health rule: its kind is the `key` (stored strings never change); operators set the threshold,
    the rule's parameters and whether it runs."""

    __tablename__ = "alert_rules"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class Alert(Base):
    """A rule that fired for one period, with the numbers behind it. At most one per (rule, period)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule_key", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(64), ForeignKey("alert_rules.key"))
    period: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    current: Mapped[float | None] = mapped_column(Float, nullable=True)
    previous: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    message: Mapped[str] = mapped_column(String(500))
    message_zh: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
