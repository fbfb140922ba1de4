"""Brand-local days in SQL: exact across a daylight-saving change on SQLite (offset table) and
PostgreSQL (AT TIME ZONE), and the bucket arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from siyu.analytics import metrics
from siyu.analytics.sqltime import Period, bucket_of
from siyu.core.settings import get_settings
from tests.analytics.brand import send


@pytest.fixture
def new_york(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SIYU_TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    return db_url


def test_local_days_across_daylight_saving(new_york: str, session: Session) -> None:
    from siyu.auth.service import create_source

    source = create_source(session, "shop")[0].id
    session.commit()
    # New York moves from UTC−5 to UTC−4 at 07:00 UTC on 2026-03-08
    orders = [
        ("2026-03-08T04:30:00Z", "o1"),  # Mar 7 23:30 EST
        ("2026-03-08T05:30:00Z", "o2"),  # Mar 8 00:30 EST
        ("2026-03-09T03:30:00Z", "o3"),  # Mar 8 23:30 EDT
        ("2026-03-09T04:30:00Z", "o4"),  # Mar 9 00:30 EDT (a fixed −5 offset would say Mar 8 23:30)
    ]
    send(
        session,
        source,
        [
            {
                "type": "track",
                "userId": f"u{i}",
                "timestamp": ts,
                "event": "Order Completed",
                "properties": {"order_id": oid, "total": "10.00", "currency": "CNY"},
            }
            for i, (ts, oid) in enumerate(orders)
        ],
        "dst",
    )
    daily = metrics.compute(
        session, "orders", start=date(2026, 3, 7), end=date(2026, 3, 9), granularity="day"
    )
    assert [p["value"] for p in daily["series"]] == [1, 2, 1]
    new = metrics.compute(session, "new_customers", start=date(2026, 3, 7), end=date(2026, 3, 9))
    assert [p["value"] for p in new["series"]] == [1, 2, 1]
    # the day of the change has 23 hours
    lo, hi = Period(date(2026, 3, 8), date(2026, 3, 8)).utc_bounds()
    assert (lo, hi) == (datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC))


def test_buckets() -> None:
    wednesday = date(2026, 11, 11)
    assert bucket_of(wednesday, "week", date(2026, 11, 1)) == date(2026, 11, 9)
    assert bucket_of(wednesday, "month", date(2026, 11, 1)) == date(2026, 11, 1)
    assert bucket_of(wednesday, "all", date(2026, 10, 1)) == date(2026, 10, 1)


def test_weekly_series_start_on_monday(session: Session) -> None:
    result = metrics.compute(
        session, "orders", start=date(2026, 11, 4), end=date(2026, 11, 17), granularity="week"
    )
    assert [p["period"] for p in result["series"]] == ["2026-11-02", "2026-11-09", "2026-11-16"]
