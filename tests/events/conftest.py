"""Fixtures for the tracking tests: a second source, so per-source behaviour can be checked."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def other_write_key(db_url: str) -> str:
    from siyu.auth.service import create_source
    from siyu.core.database import unit_of_work

    with unit_of_work() as s:
        _source, key = create_source(s, f"app-{uuid.uuid4().hex[:6]}")
    return key
