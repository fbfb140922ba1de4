"""Minimal staff records (WeCom `userid`, name, department) and customer ownership."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.core.columns import BigId
from siyu.core.database import Base, UTCDateTime


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerOwner(Base):
    """The advisor who owns a customer (one owner at a time)."""

    __tablename__ = "customer_owners"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
