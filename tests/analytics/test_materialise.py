"""The daily job stores every metric for a day (all, per source, per department, per dimension value)
and re-running it replaces the day instead of adding to it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics import metrics
from siyu.analytics.tables import DailyMetric
from tests.analytics.brand import build

NOV10 = date(2026, 11, 10)


def value(session: Session, name: str, day: date, dimension: str = "all") -> float | None:
    series = metrics.stored(session, name, day, day, dimension)["series"]
    assert len(series) == 1, (name, day, dimension, series)
    return series[0]["value"]  # type: ignore[no-any-return]


def test_materialise_a_day(session: Session) -> None:
    build(session)
    written = metrics.materialise(session, NOV10)
    session.commit()
    assert written > 0
    assert value(session, "dau", NOV10) == 2
    assert value(session, "mau", NOV10) == 6
    assert value(session, "delivery_rate", NOV10) == 5 / 6
    assert value(session, "delivery_rate", NOV10, "channel:sms") == 0.8
    assert value(session, "messages_sent", NOV10, "source:web") == 4  # to u1, u7, u8, u9
    assert value(session, "dau", NOV10, "department:East") == 1  # u1 (Alice's)
    assert value(session, "journey_conversion", NOV10) is None  # nobody entered on Nov 10
    rows = session.scalar(select(func.count()).select_from(DailyMetric))
    assert metrics.materialise(session, NOV10) == written
    session.commit()
    assert session.scalar(select(func.count()).select_from(DailyMetric)) == rows


def test_new_customers_per_source_and_maturing_rates(session: Session) -> None:
    build(session)
    metrics.materialise(session, date(2026, 10, 1))
    assert value(session, "new_customers", date(2026, 10, 1), "source:web") == 1
    assert value(session, "new_customers", date(2026, 10, 1), "source:wecom") == 0
    # materialising Nov 12 also refreshes the week before for rates whose outcomes arrive late
    metrics.materialise(session, date(2026, 11, 12))
    assert value(session, "open_rate", NOV10) == 0.4
    assert metrics.stored(session, "gmv", NOV10, NOV10)["series"] == []  # not a maturing metric


def test_the_worker_job_stores_yesterday_and_evaluates_alerts(session: Session, db_url: str) -> None:
    from datetime import UTC, datetime

    from siyu.analytics import jobs
    from siyu.core.database import session_factory
    from siyu.worker.jobs import load

    build(session)
    session.commit()
    written = jobs.nightly(session_factory(), datetime(2026, 11, 11, 3, 0, tzinfo=UTC))  # 11:00 in Shanghai
    assert written > 0
    session.expire_all()
    assert value(session, "dau", NOV10) == 2  # "yesterday" in the brand's zone
    assert load()["analytics.nightly"].run is jobs.nightly  # the worker schedules it
