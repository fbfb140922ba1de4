"""Durable journey state: journeys and their immutable versions, runs (one customer's pass through one
version), timers, bulk entries, per-node/per-variant counters, advisor tasks, and the runner's cursors.

Stored status strings never change. Every large table carries `customer_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime

JOURNEY_STATUSES = ("draft", "active", "paused", "archived")
TIMER_KINDS = ("run", "entry")  # run: a waiting run's timer; entry: a scheduled start (date trait)
TIMER_STATUSES = ("pending", "fired", "cancelled")
TASK_STATUSES = ("open", "done", "overdue", "cancelled")
STAT_METRICS = ("entered", "sent", "deferred", "dropped", "failed", "converted", "exited")


def _where(sql: str) -> dict[str, Any]:
    """A partial index's predicate, the same on PostgreSQL and SQLite."""
    return {"postgresql_where": text(sql), "sqlite_where": text(sql)}


class Journey(Base):
    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    playbook: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JourneyVersionRow(Base):
    """One saved definition; never changed after it is written (an edit adds a version)."""

    __tablename__ = "journey_versions"

    journey_id: Mapped[int] = mapped_column(Integer, ForeignKey("journeys.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class JourneyRun(Base):
    """`state` is the engine's `RunState` as JSON; `entry_key` enforces the re-entry policy (`once` for
    journeys that never re-enter, otherwise the start key, so one trigger starts one run)."""

    __tablename__ = "journey_runs"
    __table_args__ = (
        UniqueConstraint("journey_id", "customer_id", "entry_key"),
        Index("ix_journey_runs_customer_status", "customer_id", "status"),
        Index("ix_journey_runs_journey_status", "journey_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(Integer, ForeignKey("journeys.id"))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(BigId)  # no foreign key: customers are never deleted (0007)
    entry_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(Json)
    arm: Mapped[str | None] = mapped_column(String(100), nullable=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JourneyTimer(Base):
    """A durable timer, claimed when due (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and marked fired in
    the same transaction as the step it causes. `payload` of an entry timer: the start key and properties."""

    __tablename__ = "journey_timers"
    __table_args__ = (  # partial: only pending timers, in claim order (migration 0007)
        Index("ix_journey_timers_due", "due_at", "id", **_where("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    journey_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(BigId)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)


class BulkEntry(Base):
    """Start one journey for many customers (a segment, or a list), in batches, resumable by cursor.
    Created by manual triggers for a segment and by schedule (cron) triggers; `key` makes it idempotent.
    A large start is split into shards (customer id ranges) that several workers take at once."""

    __tablename__ = "journey_bulk_entries"
    __table_args__ = (Index("ix_journey_bulk_entries_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    journey_id: Mapped[int] = mapped_column(Integer, ForeignKey("journeys.id"))
    segment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_ids: Mapped[list[int] | None] = mapped_column(Json, nullable=True)
    start_key: Mapped[str] = mapped_column(String(300))
    properties: Mapped[dict[str, Any]] = mapped_column(Json)
    after_customer: Mapped[int] = mapped_column(BigInteger, default=0)
    until_customer: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # a shard's last id
    status: Mapped[str] = mapped_column(String(12))  # pending | done
    entered: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JourneyStat(Base):
    """Counters per journey version, node and arm: entered (node_id `` = the journey), sent, deferred,
    dropped, failed, converted, exited. Written with upsert-add, aggregated per batch."""

    __tablename__ = "journey_stats"

    journey_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    arm: Mapped[str] = mapped_column(String(100), primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class AdvisorTask(Base):
    """A staff member's task (call a complaining customer, follow up a silent one). Completing it records
    the timeline event `Task Completed` with `task_key`, which moves the waiting run on."""

    __tablename__ = "advisor_tasks"
    __table_args__ = (
        Index("ix_advisor_tasks_staff_status", "staff_id", "status"),
        Index("ix_advisor_tasks_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    staff_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("staff.id"), nullable=True)
    journey_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class RunnerCursor(Base):
    """Where a runner job stands: the event-log cursor (with id gaps still to re-check on PostgreSQL),
    the last fire time of each schedule trigger, the last date-trait scan."""

    __tablename__ = "journey_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
