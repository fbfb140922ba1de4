"""Scheduled jobs besides the segment queue: the lifecycle sweep (`lifecycle_sweep_interval_s`) and the
nightly RFM recompute (`rfm_recompute_hour`). Customers whose stage or value tags they changed are queued
for segment evaluation; after RFM, segments and rule tags that test RFM are rebuilt in full.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.database import write_lock
from siyu.events.system import system_source_id
from siyu.events.tables import Event
from siyu.segments import evaluation, graph, queue
from siyu.segments.conditions import RfmCondition, walk
from siyu.worker.jobs import SessionFactory, daily, every, register

CHANGES = ("Lifecycle Stage Changed", "Tag Added", "Tag Removed")


def requeue_changed(session: Session, since: datetime) -> int:
    """Queue customers whose stage or tags a job changed (their timeline events from `since` on)."""
    e = Event.__table__.c
    query = select(e.customer_id).where(
        e.name.in_(CHANGES), e.timestamp >= since, e.source_id == system_source_id(session)
    )
    ids = set(session.scalars(query.distinct()))
    queue.enqueue_now(session, ids, since, "recheck")
    return len(ids)


def lifecycle_sweep(factory: SessionFactory, now: datetime) -> int:
    """Re-decide lifecycle stages that time alone can change (boundary queries, not everyone)."""
    from siyu.lifecycle import service as lifecycle

    with factory() as session, write_lock(session):
        changed = lifecycle.sweep(session, now)
        requeue_changed(session, now)
        session.commit()
    return changed


def rfm_nightly(factory: SessionFactory, now: datetime) -> int:
    """Full RFM recompute, then full rebuilds of what tests RFM (scores move even when tiers do not)."""
    from siyu.rfm import service as rfm

    with factory() as session, write_lock(session):
        run = rfm.recompute_all(session, now)
        requeue_changed(session, now)
        session.commit()
        targets = graph.load_targets(session)
    for target in targets:
        if not any(isinstance(node, RfmCondition) for node in walk(target.root)):
            continue
        with factory() as session, write_lock(session):
            if target.kind == "segment":
                evaluation.rebuild(session, target.id, now, reason="RFM recomputed")
            else:
                evaluation.rebuild_tag(session, target.id, now, reason="RFM recomputed")
            session.commit()
    return int(run.customers)


register("lifecycle.sweep", lifecycle_sweep, schedule=every(lambda s: s.lifecycle_sweep_interval_s))
register("rfm.nightly", rfm_nightly, schedule=daily(lambda s: s.rfm_recompute_hour))
