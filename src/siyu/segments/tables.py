"""Segments, their versions, current members, and the queue of customers due for re-evaluation; plus the
index on the event log that property-filtered event counts need for full rebuilds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime
from siyu.events.tables import Event


class Segment(Base):
    """`kind` is `dynamic` (a condition tree) or `static` (members uploaded as an id list)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    last_rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the definition version the current members reflect (NULL: never built)
    built_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # counts evaluations that changed membership: part of each Segment Entered/Exited idempotency key
    transitions: Mapped[int] = mapped_column(BigInteger, default=0)


class SegmentVersion(Base):
    """Every saved definition; an edit adds a version, stored versions never change."""

    __tablename__ = "segment_versions"

    segment_id: Mapped[int] = mapped_column(Integer, ForeignKey("segments.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class SegmentMember(Base):
    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_customer", "customer_id"),)

    # No foreign keys (migration 0006): members are derived from customers and segments that are never
    # deleted (archived, merged), and a rebuild writes up to a million rows at once; on PostgreSQL the two
    # per-row referential checks cost more than the insert itself.
    segment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EvaluationDue(Base):
    """A customer whose segments and rule tags must be re-evaluated at `due_at` (now, or a re-check
    scheduled for when a relative window moves). One row per customer: the earliest time wins."""

    __tablename__ = "segment_queue"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(32))


# "Product Viewed where category = 精华, last 7 days": a range of one event name's recent rows instead of a
# scan of the whole log. Costs one more index entry per ingested event (see docs/segments.md).
Index("ix_events_name_timestamp", Event.__table__.c.name, Event.__table__.c.timestamp)
