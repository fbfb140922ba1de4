"""RFM runs: `recompute_all` scores every buyer (new cut points, one `rfm_runs` row), `refresh` rescores a
few customers with the last run's cut points; both write `rfm_scores` in bulk and the value tags.

Value tags live in the exclusive group `RFM 价值分层`, one tag per tier (its Chinese label); a customer
without a score carries none of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import chunks
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer
from siyu.rfm import facts, scoring
from siyu.rfm.facts import CHUNK, Facts, RfmConfig
from siyu.rfm.scoring import CutPoints, Scored
from siyu.rfm.tables import RfmRun, RfmScore
from siyu.rfm.tiers import TIERS
from siyu.tags import service as tags
from siyu.tags.tables import CustomerTag

TAG_GROUP = "RFM 价值分层"
ACTOR = "system:rfm"
COLUMNS = ("customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "tier", "computed_at")


def latest_run(session: Session) -> RfmRun | None:
    return session.scalars(select(RfmRun).order_by(RfmRun.id.desc()).limit(1)).first()


def recompute_all(session: Session, now: datetime) -> RfmRun:
    """Score every buyer from scratch with the current settings; replaces `rfm_scores`, syncs value tags."""
    started = time.perf_counter()
    config = RfmConfig.from_settings(get_settings())
    found = facts.load(session, config, now)
    if config.method == "thresholds":
        cuts = config.operator_cuts()
    else:
        cuts = scoring.quintile_cuts(found.recency_days, found.frequency, found.monetary)
    scored = scoring.score_all(
        found.recency_days, found.frequency, found.monetary, cuts, high_score=config.high_score
    )
    session.execute(delete(RfmScore))
    _insert_scores(session, found, scored, now)
    run = RfmRun(computed_at=now, settings=config.as_dict(), thresholds=cuts.as_dict(), customers=len(found))
    session.add(run)
    session.flush()
    desired = dict(zip(found.customer_id.tolist(), scored.tier.tolist(), strict=True))
    _sync_tags(session, desired, None, now, reason=f"RFM run {run.id}")
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
    cuts = CutPoints.from_dict(run.thresholds)
    found = facts.load(session, config, now, ids)
    scored = scoring.score_all(
        found.recency_days, found.frequency, found.monetary, cuts, high_score=config.high_score
    )
    scored_ids = set(found.customer_id.tolist())
    gone = [c for c in ids if c not in scored_ids and c in before]
    for part in chunks(gone, CHUNK):
        session.execute(delete(RfmScore).where(RfmScore.customer_id.in_(part)))
    _upsert_scores(session, found, scored, now)
    after: dict[int, str | None] = dict.fromkeys(ids)
    after.update(zip(found.customer_id.tolist(), scored.tier.tolist(), strict=True))
    _sync_tags(session, after, ids, now, reason=f"RFM refresh (run {run.id} cut points)")
    return [c for c in ids if before.get(c) != after[c]]


def _tiers(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    query = select(RfmScore.customer_id, RfmScore.tier)
    for part in chunks(ids, CHUNK):
        out.update((int(c), str(t)) for c, t in session.execute(query.where(RfmScore.customer_id.in_(part))))
    return out


def _rows(found: Facts, scored: Scored, at: Any) -> list[tuple[Any, ...]]:
    return list(
        zip(
            found.customer_id.tolist(),
            found.recency_days.tolist(),
            found.frequency.tolist(),
            found.monetary.tolist(),
            scored.r.tolist(),
            scored.f.tolist(),
            scored.m.tolist(),
            scored.tier.tolist(),
            [at] * len(found),
            strict=True,
        )
    )


def _insert_scores(session: Session, found: Facts, scored: Scored, now: datetime) -> None:
    """Bulk insert into an emptied table: COPY on PostgreSQL, one executemany on SQLite."""
    kind = fastsql.dialect(session)
    if kind != "postgresql":
        fastsql.run_many(
            session,
            fastsql.insert_sql(kind, "rfm_scores", COLUMNS),
            _rows(found, scored, fastsql.db_time(kind, now)),
        )
        return
    raw = session.connection().connection.driver_connection
    stamp = now.isoformat()
    with raw.cursor() as cur, cur.copy(f"COPY rfm_scores ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for part in chunks(_rows(found, scored, stamp), 100_000):
            copy.write("".join("\t".join(map(str, row)) + "\n" for row in part))


def _upsert_scores(session: Session, found: Facts, scored: Scored, now: datetime) -> None:
    kind = fastsql.dialect(session)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    sql = (
        f"{fastsql.insert_sql(kind, 'rfm_scores', COLUMNS)} ON CONFLICT (customer_id) DO UPDATE SET {updates}"
    )
    fastsql.run_many(session, sql, _rows(found, scored, fastsql.db_time(kind, now)))


def tier_tags(session: Session) -> dict[str, int]:
    """Tier code → tag id in the `RFM 价值分层` group (created on first use)."""
    group = tags.ensure_group(
        session,
        TAG_GROUP,
        category="value",
        kind="rule",
        exclusive=True,
        description="RFM value tiers, written by siyu's RFM runs",
    )
    return {
        code: tags.ensure_tag(session, group.id, label, description=f"RFM tier {code}").id
        for code, label in TIERS.items()
    }


def _sync_tags(
    session: Session,
    desired: Mapping[int, str | None],
    scope: Sequence[int] | None,
    now: datetime,
    *,
    reason: str,
) -> None:
    """Make the value tags of the customers in `scope` (everyone when None) match `desired` (a customer
    missing from it should carry no value tag). Only differences are written."""
    by_code = tier_tags(session)
    by_tag = {tag_id: code for code, tag_id in by_code.items()}
    current: dict[int, str] = {}
    query = select(CustomerTag.customer_id, CustomerTag.tag_id).where(CustomerTag.tag_id.in_(list(by_tag)))
    for part in [None] if scope is None else chunks(scope, CHUNK):
        q = query if part is None else query.where(CustomerTag.customer_id.in_(part))
        current.update((int(c), by_tag[int(t)]) for c, t in session.execute(q))
    merged = _merged_away(session, scope)
    adds: dict[str, list[int]] = {code: [] for code in by_code}
    removes: dict[str, list[int]] = {code: [] for code in by_code}
    for cid, code in desired.items():
        if code is not None and current.get(cid) != code and cid not in merged:
            adds[code].append(cid)
    for cid, code in current.items():
        if desired.get(cid) is None and cid not in merged:
            removes[code].append(cid)
    for code, tag_id in by_code.items():
        if adds[code] or removes[code]:
            tags.apply(
                session, tag_id, add=adds[code], remove=removes[code], actor=ACTOR, reason=reason, at=now
            )


def _merged_away(session: Session, scope: Sequence[int] | None) -> set[int]:
    """Customers folded into another: their tags are the merge's business, never RFM's."""
    query = select(Customer.id).where(Customer.merged_into_id.is_not(None))
    if scope is None:
        return set(session.scalars(query))
    out: set[int] = set()
    for part in chunks(scope, CHUNK):
        out.update(session.scalars(query.where(Customer.id.in_(part))))
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
