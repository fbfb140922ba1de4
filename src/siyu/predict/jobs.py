"""Worker job `predict.nightly`: the full prediction refresh once a day at `predict_refresh_hour` (brand
zone); customers whose predictive tags or replenish date changed are queued for segment re-checks."""

from __future__ import annotations

from datetime import datetime

from siyu.core.database import write_lock
from siyu.predict import service
from siyu.worker.jobs import SessionFactory, daily, register


def nightly_refresh(factory: SessionFactory, now: datetime) -> int:
    """Refit the prediction models and rewrite every customer's predictions, tags and replenish trait."""
    with factory() as session, write_lock(session):
        done = service.refresh_all(session, now)
        service.requeue(session, done, now)
        session.commit()
    return done.run.customers


register("predict.nightly", nightly_refresh, schedule=daily(lambda s: s.predict_refresh_hour))
