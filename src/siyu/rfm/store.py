"""Writing RFM results: the full rewrite of `rfm_scores` as one INSERT … SELECT that scores in SQL (the
same formula as `scoring.score`, with the run's cut points as parameters), upserts for refreshes, and
the value tags brought in line with the scores by anti-joins (only differences reach the tag service).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import chunks
from siyu.rfm.facts import CHUNK, Facts
from siyu.rfm.scoring import CutPoints, Cuts, Scored
from siyu.rfm.tiers import TIERS
from siyu.tags import service as tags

TAG_GROUP = "RFM 价值分层"
ACTOR = "system:rfm"
COLUMNS = ("customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "tier", "computed_at")
# 4·M_high + 2·R_high + F_high → tier, as in scoring._BY_BITS
_BITS = {
    0: "general_win_back", 1: "general_retain", 2: "general_develop", 3: "general_value",
    4: "important_win_back", 5: "important_retain", 6: "important_develop", 7: "important_value",
}  # fmt: skip


def _score_sql(column: str, cuts: Cuts, name: str, params: dict[str, Any], *, higher_is_better: bool) -> str:
    terms = ["1"]
    for k, cut in enumerate(cuts, start=2):
        if cut is not None:
            params[f"{name}{k}"] = cut
            op = ">=" if higher_is_better else "<="
            terms.append(f"CASE WHEN {column} {op} :{name}{k} THEN 1 ELSE 0 END")
    return " + ".join(terms)


def rewrite(session: Session, facts_table: str, cuts: CutPoints, high_score: int, now: datetime) -> None:
    """Replace every row of `rfm_scores` with the scored facts of `facts_table`."""
    params: dict[str, Any] = {"high": high_score, "now": fastsql.db_time(fastsql.dialect(session), now)}
    r = _score_sql("recency_days", cuts.recency_days, "r", params, higher_is_better=False)
    f = _score_sql("frequency", cuts.frequency, "f", params, higher_is_better=True)
    m = _score_sql("monetary", cuts.monetary, "m", params, higher_is_better=True)
    bits = (
        "CASE WHEN m >= :high THEN 4 ELSE 0 END + CASE WHEN r >= :high THEN 2 ELSE 0 END"
        " + CASE WHEN f >= :high THEN 1 ELSE 0 END"
    )
    tier = "CASE " + " ".join(f"WHEN {bits} = {b} THEN '{code}'" for b, code in _BITS.items()) + " END"
    session.execute(text("DELETE FROM rfm_scores"))
    # expressions are built from code and cut points travel as parameters
    sql = (
        f"INSERT INTO rfm_scores ({', '.join(COLUMNS)})"  # noqa: S608
        f" SELECT customer_id, recency_days, frequency, monetary, r, f, m, {tier}, :now FROM"
        f" (SELECT customer_id, recency_days, frequency, monetary, {r} AS r, {f} AS f, {m} AS m"
        f" FROM {facts_table}) scored"
    )
    session.execute(text(sql), params)


def upsert(session: Session, found: Facts, scored: Scored, now: datetime) -> None:
    kind = fastsql.dialect(session)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    insert = fastsql.insert_sql(kind, "rfm_scores", COLUMNS)
    at = fastsql.db_time(kind, now)
    rows = zip(
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
    fastsql.run_many(session, f"{insert} ON CONFLICT (customer_id) DO UPDATE SET {updates}", list(rows))


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


_MISSING_TAG = (
    "SELECT s.customer_id FROM rfm_scores s JOIN customers c ON c.id = s.customer_id"
    " WHERE s.tier = :tier AND c.merged_into_id IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = s.customer_id AND t.tag_id = :tag)"
)
_UNSCORED = (
    "SELECT t.customer_id FROM customer_tags t JOIN customers c ON c.id = t.customer_id"
    " WHERE t.tag_id = :tag AND c.merged_into_id IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM rfm_scores s WHERE s.customer_id = t.customer_id)"
)


def sync_tags(session: Session, scope: Sequence[int] | None, now: datetime, *, reason: str) -> None:
    """Bring the value tags of the customers in `scope` (everyone when None) in line with `rfm_scores`:
    each scored customer carries their tier's tag (the exclusive group drops the old one), an unscored
    customer none. Customers merged into another are the merge's business and are left alone."""
    parts: list[Sequence[int] | None] = [None] if scope is None else list(chunks(scope, CHUNK))
    for code, tag_id in tier_tags(session).items():
        add: list[int] = []
        remove: list[int] = []
        for part in parts:
            missing, unscored = text(_MISSING_TAG), text(_UNSCORED)
            if part is not None:
                ids: BindParameter[list[int]] = bindparam("ids", list(part), expanding=True)
                missing = text(_MISSING_TAG + " AND s.customer_id IN :ids").bindparams(ids)
                unscored = text(_UNSCORED + " AND t.customer_id IN :ids").bindparams(ids)
            add += session.scalars(missing, {"tier": code, "tag": tag_id})
            remove += session.scalars(unscored, {"tag": tag_id})
        if add or remove:
            tags.apply(session, tag_id, add=add, remove=remove, actor=ACTOR, reason=reason, at=now)
