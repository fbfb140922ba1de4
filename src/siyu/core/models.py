"""Imports every capability's tables so `Base.metadata` is complete (Alembic and tests use this)."""

from siyu.auth import tables as auth_tables
from siyu.commerce import tables as commerce_tables
from siyu.core.database import Base
from siyu.customers import tables as customer_tables
from siyu.events import tables as event_tables

metadata = Base.metadata

__all__ = ["auth_tables", "commerce_tables", "customer_tables", "event_tables", "metadata"]
