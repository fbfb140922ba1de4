"""Imports every capability's tables so `Base.metadata` is complete (Alembic and tests use this)."""

from siyu.analytics import tables as analytics_tables
from siyu.auth import tables as auth_tables
from siyu.commerce import tables as commerce_tables
from siyu.consent import tables as consent_tables
from siyu.core.database import Base
from siyu.customers import tables as customer_tables
from siyu.events import tables as event_tables
from siyu.journeys import tables as journey_tables
from siyu.lifecycle import tables as lifecycle_tables
from siyu.messaging import tables as messaging_tables
from siyu.predict import tables as prediction_tables  # noqa: F401 (registers predictions tables)
from siyu.rfm import tables as rfm_tables
from siyu.segments import tables as segment_tables
from siyu.staff import tables as staff_tables
from siyu.tags import tables as tag_tables

metadata = Base.metadata

__all__ = [
    "analytics_tables",
    "auth_tables",
    "commerce_tables",
    "consent_tables",
    "customer_tables",
    "event_tables",
    "journey_tables",
    "lifecycle_tables",
    "messaging_tables",
    "metadata",
    "rfm_tables",
    "segment_tables",
    "staff_tables",
    "tag_tables",
]
