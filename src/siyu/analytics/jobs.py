"""Worker job `analytics.nightly`: store yesterday's metrics (`daily_metrics`) and evaluate the health
alert rules, once a day at `analytics_materialise_hour` (brand zone)."""

from __future__ import annotations

from datetime import datetime, timedelta

from siyu.analytics.alerts import evaluate_alerts
from siyu.analytics.materialise import materialise
from siyu.analytics.sqltime import local_day_of
from siyu.core.database import write_lock
from siyu.worker.jobs import SessionFactory, daily, register


def nightly(factory: SessionFactory, now: datetime) -> int:
    """Materialise the brand-local day before `now`, then raise any alerts due; returns rows written."""
    yesterday = local_day_of(now) - timedelta(days=1)
    with factory() as session, write_lock(session):
        written = materialise(session, yesterday)
        evaluate_alerts(session, now)
        session.commit()
    return written


register("analytics.nightly", nightly, schedule=daily(lambda s: s.analytics_materialise_hour))
