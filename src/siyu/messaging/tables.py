"""Messaging state: the outbox (one row per message, keyed by its idempotency key), the contact history the
governor counts, message templates, tracked links, and per-channel operator settings.

Stored status and reason strings never change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime

# pending/deferred: waiting for next_attempt_at; sending: handed to a channel under a lease;
# sent/queued_for_confirmation: done; dropped/failed: given up, with the reason.
OUTBOX_STATUSES = ("pending", "deferred", "sending", "sent", "queued_for_confirmation", "dropped", "failed")
CLAIMABLE = ("pending", "deferred")


def _where(sql: str) -> dict[str, Any]:
    """A partial index's predicate, the same on PostgreSQL and SQLite."""
    return {"postgresql_where": text(sql), "sqlite_where": text(sql)}


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # partial claim indexes (migration 0007): only rows a worker can claim, in claim order
        Index("ix_outbox_due", "next_attempt_at", "id", **_where("status IN ('pending', 'deferred')")),
        Index("ix_outbox_lease", "lease_until", "id", **_where("status = 'sending'")),
        Index("ix_outbox_confirming", "provider_id", **_where("status = 'queued_for_confirmation'")),
        Index("ix_outbox_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId)  # no foreign key: customers are never deleted (0007)
    journey_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    arm: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    mass: Mapped[bool] = mapped_column(Boolean, default=False)
    coupon_pool: Mapped[str | None] = mapped_column(String(100), nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deferrals: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason_zh: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reason_en: Mapped[str | None] = mapped_column(String(500), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    track_code: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    subject: Mapped[str | None] = mapped_column(String(500), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageLog(Base):
    """Contact history: one row per message handed to a channel (written when the governor lets it go,
    removed again if the channel refuses it), read by the governor for budgets and quotas."""

    __tablename__ = "message_log"
    __table_args__ = (Index("ix_message_log_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    mass: Mapped[bool] = mapped_column(Boolean, default=False)
    journey_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageTemplate(Base):
    """A message template (Jinja2, sandboxed), addressed by `id` from send nodes; each save bumps
    `version`, and the outbox records the version it rendered. SMS: `provider_template` is the approved
    TemplateCode/TemplateId and `params` its parameters (name → template source); `body` the full text."""

    __tablename__ = "message_templates"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(500), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_template: Mapped[str | None] = mapped_column(String(100), nullable=True)
    params: Mapped[dict[str, str]] = mapped_column(Json)
    variables: Mapped[list[str]] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class TrackedLink(Base):
    """A short code (`/t/{code}`) standing for one URL in one message; a click records `Message Clicked`."""

    __tablename__ = "tracked_links"
    __table_args__ = (Index("ix_tracked_links_message_key", "message_key"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    message_key: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)


class ChannelSetting(Base):
    """What an operator set for a channel: enabled, and per-customer daily quotas (None = the default).
    Credentials stay in settings, never here."""

    __tablename__ = "channel_settings"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    per_customer_daily: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mass_per_customer_daily: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))
