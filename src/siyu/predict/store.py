"""Writes of a prediction refresh: every customer's row replaced in bulk (COPY on PostgreSQL, one
executemany on SQLite), the predictive tags synced by anti-joins, and the `expected_replenish_date` trait
written only where it changed (journeys' date-trait triggers read it from `traits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.pii import get_vault
from siyu.customers import traits
from siyu.customers.tables import Trait
from siyu.predict.features import TAG_GROUP
from siyu.tags import service as tags

COLUMNS = (
    "customer_id", "run_id", "p_alive", "expected_purchases_90d", "clv_minor", "next_purchase_at",
    "next_purchase_low", "next_purchase_high", "churn_risk", "best_send_hour", "replenish_on",
    "replenish_remind_on", "replenish_product", "computed_at",
)  # fmt: skip
TIMES = {5, 6, 7, 13}  # positions of datetime columns
DATES = {10, 11}
ACTOR = "system:predict"
REPLENISH_TRAIT = "expected_replenish_date"
HIGH_CHURN, HIGH_POTENTIAL = "高流失风险", "高潜力"
TRAIT_CHUNK = 5000
Row = tuple[Any, ...]


def replace_all(session: Session, rows: Sequence[Row]) -> None:
    """Delete every prediction and insert `rows` (ordered as COLUMNS) in the caller's transaction."""
    kind = fastsql.dialect(session)
    conn = session.connection()
    conn.exec_driver_sql("DELETE FROM predictions")
    if kind == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = fastsql.insert_sql(kind, "predictions", COLUMNS)
    fastsql.run_many(session, sql, [_sqlite_row(row) for row in rows])


def _sqlite_row(row: Row) -> Row:
    out = list(row)
    for i in TIMES:
        out[i] = fastsql.db_time("sqlite", out[i])
    for i in DATES:
        out[i] = None if out[i] is None else out[i].isoformat()
    return tuple(out)


_MISSING = (
    "SELECT p.customer_id FROM predictions p JOIN customers c ON c.id = p.customer_id"
    " WHERE c.merged_into_id IS NULL AND ({rule}) AND NOT EXISTS"
    " (SELECT 1 FROM customer_tags t WHERE t.customer_id = p.customer_id AND t.tag_id = :tag)"
)
_STALE = (
    "SELECT t.customer_id FROM customer_tags t JOIN customers c ON c.id = t.customer_id"
    " WHERE t.tag_id = :tag AND c.merged_into_id IS NULL AND NOT EXISTS"
    " (SELECT 1 FROM predictions p WHERE p.customer_id = t.customer_id AND ({rule}))"
)
RULES = {
    HIGH_CHURN: "p.churn_risk >= :churn",
    HIGH_POTENTIAL: "p.clv_minor >= :clv AND p.clv_minor > 0 AND p.p_alive >= :alive",
}
DESCRIPTIONS = {
    HIGH_CHURN: "Churn risk (P(no purchase in the churn horizon)) at or above predict_churn_threshold",
    HIGH_POTENTIAL: "Top predict_high_potential_share by predicted CLV among buyers likely still active",
}


def sync_tags(
    session: Session, params: dict[str, Any], now: datetime, *, reason: str
) -> tuple[dict[str, dict[str, int]], set[int]]:
    """Bring 高流失风险 and 高潜力 in line with the predictions table; `params` binds :churn, :clv,
    :alive. Returns added/removed/members per tag, and the customers whose tags changed."""
    group = tags.ensure_group(
        session,
        TAG_GROUP,
        category="value",
        kind="predictive",
        exclusive=False,
        description="Written by siyu's prediction refresh (docs/predictions.md)",
    )
    out: dict[str, dict[str, int]] = {}
    touched: set[int] = set()
    for name, rule in RULES.items():
        tag = tags.ensure_tag(session, group.id, name, description=DESCRIPTIONS[name])
        bind = {**params, "tag": tag.id}
        add = sorted(session.scalars(text(_MISSING.format(rule=rule)), bind))
        remove = sorted(session.scalars(text(_STALE.format(rule=rule)), bind))
        if add or remove:
            tags.apply_resolved(session, tag, group, add, remove, actor=ACTOR, reason=reason, at=now)
            touched.update(add, remove)
        members = tags.counts_by_tag(session, [tag.id]).get(tag.id, 0)
        out[name] = {"tag_id": tag.id, "added": len(add), "removed": len(remove), "members": members}
    return out, touched


def sync_replenish_trait(session: Session, due: dict[int, date], now: datetime) -> list[int]:
    """Set `expected_replenish_date` (ISO date) where it differs from `due`, clear it (null) for customers
    no longer in `due`; returns the customers whose trait changed."""
    current = {
        int(cid): value
        for cid, value in session.execute(
            select(Trait.customer_id, Trait.value).where(Trait.name == REPLENISH_TRAIT)
        )
    }
    wanted = {cid: day.isoformat() for cid, day in due.items()}
    changed = [cid for cid, value in wanted.items() if current.get(cid) != value]
    changed += [cid for cid, value in current.items() if cid not in wanted and value is not None]
    changed.sort()
    vault = get_vault()
    for start in range(0, len(changed), TRAIT_CHUNK):
        writes = [
            traits.TraitWrite(cid, REPLENISH_TRAIT, wanted.get(cid), now, "predict")
            for cid in changed[start : start + TRAIT_CHUNK]
        ]
        traits.record(session, vault, writes)
    return changed
