"""Consent per (customer, channel, purpose): `granted`, `denied` or `unsubscribed`, with its origin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId
from siyu.core.database import Base, UTCDateTime

CHANNELS = ("wecom", "sms", "email", "webhook", "any")
PURPOSES = ("marketing", "service", "transactional")
STATUSES = ("granted", "denied", "unsubscribed")


class Consent(Base):
    __tablename__ = "consents"
    # segment consent conditions read one range of this covering index
    __table_args__ = (Index("ix_consents_purpose_status", "channel", "purpose", "status", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    origin: Mapped[str] = mapped_column(String(100))
