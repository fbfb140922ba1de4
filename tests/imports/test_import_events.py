"""Importing events: track messages with properties, brand-zone timestamps, rejects by line, re-runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from siyu.core.database import session_factory
from siyu.customers.tables import DailyEventCount
from siyu.events.tables import Event
from tests.imports.conftest import Runner, profile_of, stored_counts
from tests.imports.files import FORMATS, row_number, write_table

COLUMNS = ["user_id", "anonymous_id", "event", "timestamp", "properties", "channel"]
ROWS = [
    ["u-1", None, "Coupon Claimed", "2024-05-01 07:30", '{"coupon": "NEW10"}', "douyin"],
    [None, "anon-9", "Page Viewed", "2024-05-01T23:30:00+08:00", None, "mini-program"],
    ["u-1", None, "Coupon Claimed", "2024-05-02 09:00", '{"coupon": "VIP"}', None],
]


def events_of(identity: str) -> list[Event]:
    customer = profile_of(identity)["id"]
    with session_factory()() as s:
        return list(s.scalars(select(Event).where(Event.customer_id == customer).order_by(Event.timestamp)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_events_land_on_the_timeline(fmt: str, tmp_path: Path, run_import: Runner) -> None:
    summary = run_import("events", write_table(tmp_path / f"events.{fmt}", COLUMNS, ROWS))

    assert (summary.read, summary.imported, summary.rejected) == (3, 3, 0)
    claimed = events_of("user_id:u-1")
    assert [(e.name, e.properties, e.timestamp) for e in claimed] == [
        (
            "Coupon Claimed",
            {"coupon": "NEW10", "channel": "douyin"},
            datetime(2024, 4, 30, 23, 30, tzinfo=UTC),
        ),
        ("Coupon Claimed", {"coupon": "VIP"}, datetime(2024, 5, 2, 1, 0, tzinfo=UTC)),
    ]
    viewed = events_of("anonymous_id:anon-9")
    assert [(e.name, e.timestamp) for e in viewed] == [
        ("Page Viewed", datetime(2024, 5, 1, 15, 30, tzinfo=UTC))
    ]
    stats = profile_of("user_id:u-1")["stats"]
    assert stats["events_count"] == 2
    assert stats["first_seen_at"] == datetime(2024, 4, 30, 23, 30, tzinfo=UTC)
    with session_factory()() as s:
        days = s.execute(
            select(DailyEventCount.day, DailyEventCount.count).where(
                DailyEventCount.customer_id == profile_of("user_id:u-1")["id"]
            )
        ).all()
    # 07:30 in Shanghai is 23:30 UTC the day before: the rollup counts it on the brand's day
    assert sorted(days) == [(date(2024, 5, 1), 1), (date(2024, 5, 2), 1)]


def test_jsonl_lines_are_reported_by_line_number(tmp_path: Path, run_import: Runner) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        '{"userId": "u-1", "event": "Signed Up", "timestamp": "2024-05-01 10:00", '
        '"properties": {"plan": "a"}}',
        "",
        '{"userId": "u-1", "event": "Signed Up", "timestamp": "2024-05-01 10:00"',  # broken JSON
        '["not", "an", "object"]',
        '{"userId": "u-2", "timestamp": "2024-05-01 10:00"}',  # no event
        '{"userId": "u-3", "event": "Signed Up", "timestamp": "yesterday"}',
        '{"userId": "u-4", "event": "Signed Up", "timestamp": "2024-05-03", "properties": {"n": 1.25}}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = run_import("events", path)

    assert (summary.read, summary.imported, summary.rejected) == (6, 2, 4)
    assert [(r.row, r.field) for r in summary.rejects] == [(3, ""), (4, ""), (5, "event"), (6, "timestamp")]
    assert "not valid JSON" in summary.rejects[0].reason
    assert events_of("user_id:u-1")[0].properties == {"plan": "a"}
    assert events_of("user_id:u-4")[0].properties == {"n": 1.25}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_property_json_rejects_its_row(fmt: str, tmp_path: Path, run_import: Runner) -> None:
    rows = [ROWS[0], ["u-2", None, "Signed Up", "2024-05-01", "{oops", None], ROWS[1]]
    summary = run_import("events", write_table(tmp_path / f"events.{fmt}", COLUMNS, rows))
    assert [(r.row, r.field) for r in summary.rejects] == [(row_number(fmt, 1), "properties")]
    assert summary.imported == 2


def test_identical_event_rows_are_all_kept_and_rerun_changes_nothing(
    tmp_path: Path, run_import: Runner
) -> None:
    same = ["u-1", None, "Page Viewed", "2024-05-01 08:30", None, None]
    path = write_table(tmp_path / "events.csv", COLUMNS, [same, same, ROWS[0]])

    first = run_import("events", path)
    before = stored_counts()
    again = run_import("events", path)

    assert (first.imported, first.duplicates) == (3, 0)
    assert (again.imported, again.duplicates) == (0, 3)
    assert stored_counts() == before
    assert before["events"] == 3 and before["events_counted"] == 3


def test_an_order_completed_event_file_makes_orders_too(tmp_path: Path, run_import: Runner) -> None:
    columns = ["user_id", "event", "timestamp", "order_id", "total"]
    rows = [["u-1", "Order Completed", "2024-05-01", "E-1", "88.80"]]
    run_import("events", write_table(tmp_path / "events.csv", columns, rows))
    stats = profile_of("user_id:u-1")["stats"]
    assert (stats["orders_count"], stats["total_spent_minor"]) == (1, 8880)
