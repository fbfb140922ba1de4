"""Fixtures for the import tests: run an import the way the CLI does, count what is stored, find profiles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select

from siyu.commerce.tables import Order, OrderLine
from siyu.core.database import session_factory
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers import profiles, search
from siyu.customers.tables import Customer, CustomerStats, DailyEventCount, Identity, Trait, TraitChange
from siyu.events.tables import Event
from siyu.imports import service
from siyu.imports.records import Kind


class Runner(Protocol):
    def __call__(
        self,
        kind: str,
        path: Path,
        *,
        maps: Sequence[str] = (),
        skip: Sequence[str] = (),
        sheet: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
        chunk_rows: int = service.CHUNK_ROWS,
    ) -> service.Summary: ...


@pytest.fixture
def run_import(db_url: str) -> Runner:
    """`run_import(kind, path, …)` → Summary, through the same service calls as `siyu import`."""

    def run(
        kind: str,
        path: Path,
        *,
        maps: Sequence[str] = (),
        skip: Sequence[str] = (),
        sheet: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
        chunk_rows: int = service.CHUNK_ROWS,
    ) -> service.Summary:
        settings, vault = get_settings(), get_vault()
        prepared = service.prepare(Kind(kind), path, settings, vault, maps=maps, skip=skip, sheet=sheet)
        return service.execute(
            prepared, settings, vault, source=source, dry_run=dry_run, chunk_rows=chunk_rows
        )

    return run


def stored_counts() -> dict[str, int]:
    """Row counts of every table an import writes to, plus the summed per-customer counters."""
    with session_factory()() as s:
        counts = {
            table.__tablename__: int(s.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Event, Customer, Identity, Trait, TraitChange, Order, OrderLine, DailyEventCount)
        }
        counts["events_counted"] = int(s.scalar(select(func.sum(CustomerStats.events_count))) or 0)
        counts["spent_minor"] = int(s.scalar(select(func.sum(CustomerStats.total_spent_minor))) or 0)
        counts["daily_counted"] = int(s.scalar(select(func.sum(DailyEventCount.count))) or 0)
    return counts


def profile_of(identity: str) -> dict[str, Any]:
    """The unified profile (personal data in full) of the one customer holding `identity` (TYPE:VALUE)."""
    vault = get_vault()
    with session_factory()() as s:
        ids = search.by_identity(s, vault, identity)
        assert len(ids) == 1, f"{identity}: expected one customer, found {ids}"
        return profiles.profile(s, vault, ids[0], sees_pii=True)


def has_identity(identity: str) -> bool:
    with session_factory()() as s:
        return bool(search.by_identity(s, get_vault(), identity))
