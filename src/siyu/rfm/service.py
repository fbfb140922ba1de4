"""RFM runs: `recompute_all` scores every buyer (new cut points, one `rfm_runs` row), `refresh` rescores a
few customers with the last run's cut points; both write `rfm_scores` in bulk and the value tags.

Value tags live in the exclusive group `RFM 价值分层`, one tag per tier (its Chinese label); a customer
without a score carries none of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from siyu.core.database import chunks
from siyu.core.settings import get_settings
from siyu.rfm import facts, scoring, store
from siyu.rfm.facts import CHUNK, RfmConfig
from siyu.rfm.scoring import CutPoints
from siyu.rfm.tables import RfmRun, RfmScore
from siyu.rfm.tiers import TIERS

TAG_GROUP = store.TAG_GROUP
RECOMPUTE_LOCK = 0x72_666D_0001  # PostgreSQL advisory-lock key of full RFM runs


def latest_run(session: Session) -> RfmRun | None:
    return session.scalars(select(RfmRun).order_by(RfmRun.id.desc()).limit(1)).first()


def recompute_all(session: Session, now: datetime) -> RfmRun:
    """Score every buyer from scratch with the current settings; replaces `rfm_scores`, syncs value tags.
    The facts go to a temporary table and are scored by SQL; only the three value columns come to
    NumPy, for the quintile cut points."""
    started = time.perf_counter()
    if session.get_bind().dialect.name == "postgresql":  # one full run at a time (SQLite: one writer)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK})
    config = RfmConfig.from_settings(get_settings())
    table = facts.materialise(session, config, now)
    recency, frequency, monetary = facts.values(session)
    if config.method == "thresholds":
        cuts = config.operator_cuts()
    else:
        cuts = scoring.quintile_cuts(recency, frequency, monetary)
    store.rewrite(session, table, cuts, config.high_score, now)
    facts.drop(session)
    run = RfmRun(
        computed_at=now, settings=config.as_dict(), thresholds=cuts.as_dict(), customers=len(recency)
    )
    session.add(run)
    session.flush()
    store.sync_tags(session, None, now, reason=f"RFM run {run.id}")
    run.seconds = round(time.perf_counter() - started, 3)
    session.flush()
    return run


def refresh(session: Session, customer_ids: Iterable[int], now: datetime) -> list[int]:
    """Rescore these customers with the last run's settings and cut points (a first run if there is none);
    returns the customers whose tier changed (including to or from no tier)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    before = _tiers(session, ids)
    run = latest_run(session)
    if run is None:
        recompute_all(session, now)
        first = _tiers(session, ids)
        return [c for c in ids if before.get(c) != first.get(c)]
    config = RfmConfig.from_dict(run.settings)
    found = facts.load(session, config, now, ids)
    scored = scoring.score_all(
        found.recency_days,
        found.frequency,
        found.monetary,
        CutPoints.from_dict(run.thresholds),
        high_score=config.high_score,
    )
    scored_ids = set(found.customer_id.tolist())
    gone = [c for c in ids if c not in scored_ids and c in before]
    for part in chunks(gone, CHUNK):
        session.execute(delete(RfmScore).where(RfmScore.customer_id.in_(part)))
    store.upsert(session, found, scored, now)
    store.sync_tags(session, ids, now, reason=f"RFM refresh (cut points of run {run.id})")
    after = dict(zip(found.customer_id.tolist(), scored.tier.tolist(), strict=True))
    return [c for c in ids if before.get(c) != after.get(c)]


def _tiers(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    query = select(RfmScore.customer_id, RfmScore.tier)
    for part in chunks(ids, CHUNK):
        out.update((int(c), str(t)) for c, t in session.execute(query.where(RfmScore.customer_id.in_(part))))
    return out


def summary(session: Session) -> dict[str, Any]:
    """The last run (settings, cut points, timing) and the current customers per tier."""
    run = latest_run(session)
    query = select(RfmScore.tier, func.count()).group_by(RfmScore.tier)
    counts = {str(t): int(n) for t, n in session.execute(query)}
    total = sum(counts.values())
    return {
        "run": None
        if run is None
        else {
            "id": run.id,
            "computed_at": run.computed_at,
            "settings": run.settings,
            "cut_points": run.thresholds,
            "customers": run.customers,
            "seconds": run.seconds,
        },
        "customers": total,
        "tiers": [
            {
                "tier": code,
                "label": label,
                "customers": int(counts.get(code, 0)),
                "share": round(counts.get(code, 0) / total, 4) if total else 0.0,
            }
            for code, label in TIERS.items()
        ],
    }
