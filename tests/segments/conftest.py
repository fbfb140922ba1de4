"""Fixtures for segment tests: a small brand with known customers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.segments.world import World


@pytest.fixture
def world(session: Session) -> World:
    return World(session)
