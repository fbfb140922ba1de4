"""Retention cohorts of the fixture brand, by first order and by first seen, in months and days."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from siyu.analytics.cohorts import offset, period_start, retention
from siyu.analytics.population import Filters
from siyu.core.errors import ValidationFailed
from tests.analytics.brand import build

OCT1, NOV30 = date(2026, 10, 1), date(2026, 11, 30)


def table(result: dict[str, Any]) -> list[tuple[str, int, list[int]]]:
    return [(c["cohort"], c["size"], c["retained"]) for c in result["cohorts"]]


def test_first_order_months(session: Session) -> None:
    build(session)
    result = retention(session, by="first_order", unit="month", start=OCT1, end=NOV30)
    # first counted orders: u1 and u3 in October (u2's only order was refunded), u6 in November;
    # u3 ordered again in November, u1 did not
    assert table(result) == [("2026-10-01", 2, [2, 1]), ("2026-11-01", 1, [1])]
    assert result["cohorts"][0]["rates"] == [1.0, 0.5]


def test_first_seen_months(session: Session) -> None:
    build(session)
    result = retention(session, by="first_seen", unit="month", start=OCT1, end=NOV30)
    # October cohort u1 u2 u3 u4 u7; active in November: u1 (opened), u3, u7 (clicked); u4 was only sent to
    assert table(result) == [("2026-10-01", 5, [5, 3]), ("2026-11-01", 2, [2])]
    wecom = retention(
        session, by="first_seen", unit="month", start=OCT1, end=NOV30, filters=Filters(source="wecom")
    )
    assert table(wecom) == [("2026-10-01", 2, [2, 1]), ("2026-11-01", 1, [1])]


def test_first_seen_days(session: Session) -> None:
    build(session)
    result = retention(session, by="first_seen", unit="day", start=OCT1, end=date(2026, 10, 3), periods=3)
    # u1 (Oct 1), u2 (Oct 2 local), u3 (Oct 3): each active on their first day only, within these days
    assert table(result) == [("2026-10-01", 1, [1, 0, 0]), ("2026-10-02", 1, [1, 0]), ("2026-10-03", 1, [1])]
    two_weeks = retention(
        session, by="first_order", unit="day", start=OCT1, end=date(2026, 10, 15), periods=15
    )
    u1 = two_weeks["cohorts"][0]
    assert u1["cohort"] == "2026-10-01" and u1["retained"][14] == 1 and sum(u1["retained"]) == 2


def test_offsets() -> None:
    assert offset(date(2026, 11, 1), date(2027, 2, 1), "month") == 3
    assert offset(date(2026, 11, 2), date(2026, 11, 16), "week") == 2
    assert period_start(date(2026, 11, 1), 3, "month") == date(2027, 2, 1)


def test_bad_periods(session: Session) -> None:
    with pytest.raises(ValidationFailed) as bad:
        retention(session, by="first_order", unit="month", start=OCT1, end=NOV30, periods=99)
    assert bad.value.field == "periods"
    with pytest.raises(ValidationFailed) as backwards:
        retention(session, by="first_order", unit="month", start=NOV30, end=OCT1)
    assert backwards.value.field == "from"
