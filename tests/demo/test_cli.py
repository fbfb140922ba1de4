"""`siyu demo --no-serve`: loads, prints a summary and a working admin token, and is idempotent."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select
from typer.testing import CliRunner

from siyu.auth.service import token_for
from siyu.cli.main import app
from siyu.core.database import session_factory
from siyu.core.pii import get_vault
from siyu.customers import search
from siyu.events.system import system_source_id
from siyu.events.tables import Event
from tests.conftest import FrozenClock

runner = CliRunner()


def _events() -> tuple[int, datetime | None]:
    """Tracked events (not the timeline events siyu writes itself: tags, segments, lifecycle)."""
    with session_factory()() as s:
        tracked = Event.source_id != system_source_id(s)
        count = int(s.scalar(select(func.count()).where(tracked)) or 0)
        latest = s.scalar(select(func.max(Event.timestamp)).where(tracked))
    return count, latest


def test_demo_loads_prints_an_admin_token_and_a_rerun_days_later_adds_nothing(
    db_url: str, frozen_clock: FrozenClock
) -> None:
    result = runner.invoke(app, ["demo", "--customers", "40", "--seed", "5", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "澜肌 Lanji demo" in result.output and "GMV" in result.output
    for row in ("staff", "consents", "tags", "RFM tiers", "lifecycle", "segments", "journeys", "metrics"):
        assert f"│ {row} " in result.output, row
    assert "高价值沉睡" in result.output and "新客欢迎" in result.output and "(active)" in result.output
    assert "/api/v1/customers" in result.output
    token = re.search(r"sy_[A-Za-z0-9_-]{20,}", result.output)
    assert token is not None
    with session_factory()() as s:
        row = token_for(s, token.group(0))
        assert row is not None and row.role == "admin" and row.name == "demo-admin-1"
    member = re.search(r"identity=member_id:(LJ\d+)", result.output)
    assert member is not None, result.output
    with session_factory()() as s:
        assert len(search.by_identity(s, get_vault(), f"member_id:{member.group(1)}")) == 1
    count, latest = _events()
    assert count > 100
    assert latest is not None and latest.replace(tzinfo=UTC) < datetime(2026, 11, 1, tzinfo=UTC)

    frozen_clock.advance(days=3)  # the history stays anchored on the day of the first load
    again = runner.invoke(app, ["demo", "--customers", "40", "--seed", "5", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert "demo-admin-2" in again.output
    assert _events() == (count, latest)


def test_anchor_option_sets_the_end_of_the_history(db_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--customers",
            "20",
            "--seed",
            "5",
            "--no-serve",
            "--anchor",
            "2025-12-01",
            "--metrics-days",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    _count, latest = _events()
    assert latest is not None and latest.replace(tzinfo=UTC) < datetime(2025, 12, 1, tzinfo=UTC)
