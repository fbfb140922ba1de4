"""Shared demo streams: generated once per session at a fixed anchor, so the tests never read the clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.demo.generator import DemoCustomer, customers

ANCHOR = datetime(2026, 3, 15, tzinfo=UTC)
SEED = 42


@pytest.fixture(scope="session")
def population() -> list[DemoCustomer]:
    """1,500 customers: enough for the realism checks to be stable, quick to generate."""
    return list(customers(1500, SEED, ANCHOR))
