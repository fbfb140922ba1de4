"""Tables of the unified customer: customers, identities, traits (+ history), stats, rollups, merges.

Every large table carries `customer_id` so PostgreSQL can later be sharded by it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id"), nullable=True, index=True
    )


class Identity(Base):
    """One identifier of a customer. PII types keep `value` NULL: ciphertext + blind-index `lookup`."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("lookup", "type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    lookup: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Trait(Base):
    """Current value of a trait: last write wins by event time. PII traits keep only `value_enc`."""

    __tablename__ = "traits"
    # SQLite only (migration 0006): trait conditions of segments read one name's range of this covering
    # index; a PostgreSQL B-tree entry is limited to ~2.7 kB, which a long value would exceed
    __table_args__ = (Index("ix_traits_name_value", "name", "value", "customer_id").ddl_if(dialect="sqlite"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    value_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    history_id: Mapped[int] = mapped_column(BigInteger)


class TraitChange(Base):
    """Every trait write ever observed (the source of truth that `traits` materialises)."""

    __tablename__ = "trait_history"
    __table_args__ = (Index("ix_trait_history_customer_name", "customer_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    value_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    origin: Mapped[str] = mapped_column(String(64))


class CustomerStats(Base):
    """Per-customer aggregates kept current at ingestion (never recomputed on a request path)."""

    __tablename__ = "customer_stats"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    events_count: Mapped[int] = mapped_column(BigInteger, default=0)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)


class DailyEventCount(Base):
    """Daily rollup (customer, day in the brand's zone, event) → count, for windowed conditions."""

    __tablename__ = "daily_event_counts"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Merge(Base):
    """Customer `merged_id` folded into `survivor_id`: who, when, why, and exactly what moved (to undo)."""

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved: Mapped[dict[str, list[int]]] = mapped_column(Json)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    undone_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
