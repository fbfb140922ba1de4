"""Tag groups, tags, the tags each customer carries now, and every add/remove ever made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId, Json
from siyu.core.database import Base, UTCDateTime

CATEGORIES = ("source", "behavior", "value", "interest", "lifecycle", "custom")
KINDS = ("static", "rule", "predictive")


class TagGroup(Base):
    """A family of tags. `exclusive` groups allow one tag per customer (e.g. one lifecycle stage)."""

    __tablename__ = "tag_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Tag(Base):
    """One tag. A rule tag carries `rule` (a segment condition tree) and `rule_version`."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer, ForeignKey("tag_groups.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    rule: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    rule_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CustomerTag(Base):
    """A tag a customer carries now; `added_by` is `user:<name>`, `rule:<tag id>`, `import:<file>`, …"""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag_customer", "tag_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(Integer, ForeignKey("tags.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(100))


class TagChange(Base):
    """Every add or remove: when, by what rule or person, and why."""

    __tablename__ = "tag_history"
    __table_args__ = (Index("ix_tag_history_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    tag_id: Mapped[int] = mapped_column(Integer, ForeignKey("tags.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # "added" | "removed"
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
