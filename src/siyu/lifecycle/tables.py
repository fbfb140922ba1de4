"""Each customer's current lifecycle stage (transitions themselves are timeline events), and when each
scheduled job (e.g. the lifecycle sweep) last ran, so the next run only looks at what changed since."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId
from siyu.core.database import Base, UTCDateTime

STAGES = ("prospect", "new", "returning", "dormant", "churned", "reactivated")


class LifecycleState(Base):
    __tablename__ = "lifecycle_states"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """When a scheduled job last completed; its next run covers (last_run_at, now]."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
