"""Writes of a prediction refresh: every customer's row replaced in bulk (COPY on PostgreSQL, one
executemany on SQLite), the predictive tags synced by anti-joins, and the `expected_replenish_date` trait
written only where it changed (journeys' date-trait triggers read it from `traits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.pii import get_vault
from siyu.customers import traits
from siyu.customers.tables import Trait
from siyu.predict.features import TAG_GROUP, IntArray, Vector
from siyu.tags import service as tags

COLUMNS = (
    "customer_id", "run_id", "p_alive", "expected_purchases_90d", "clv_minor", "next_purchase_at",
    "next_purchase_low", "next_purchase_high", "churn_risk", "best_send_hour", "replenish_on",
    "replenish_remind_on", "replenish_product", "computed_at",
)  # fmt: skip
ACTOR = "system:predict"
REPLENISH_TRAIT = "expected_replenish_date"
HIGH_CHURN, HIGH_POTENTIAL = "高流失风险", "高潜力"
TRAIT_CHUNK = 5000
MICROS_PER_DAY = 86_400_000_000
WRITE_CHUNK = 100_000  # prediction rows converted and written at a time


@dataclass(frozen=True)
class Columns:
    """Every customer's predictions, column by column: NaN (floats) or -1 (day numbers) is unknown."""

    customer_id: IntArray
    p_alive: Vector
    expected_90d: Vector
    clv_minor: Vector
    next_days: Vector  # waits in days from `now`: median, low and high
    low_days: Vector
    high_days: Vector
    churn_risk: Vector
    best_send_hour: IntArray
    replenish_day: IntArray
    remind_day: IntArray
    replenish_product: list[str | None]


def replace_all(session: Session, run_id: int, now: datetime, c: Columns) -> None:
    """Delete every prediction and write `c` in the caller's transaction, WRITE_CHUNK rows at a time
    (bounded memory); values are converted column by column (timestamps as UTC text by NumPy)."""
    kind = fastsql.dialect(session)
    zone = "+00" if kind == "postgresql" else ""
    conn = session.connection()
    conn.exec_driver_sql("DELETE FROM predictions")
    computed_at = _times(now, np.zeros(1), zone)[0]
    for start in range(0, c.customer_id.shape[0], WRITE_CHUNK):
        part = slice(start, start + WRITE_CHUNK)
        n = c.customer_id[part].shape[0]
        money = [None if v is None else round(v) for v in _floats(c.clv_minor[part])]
        columns = [
            c.customer_id[part].tolist(), [run_id] * n, _floats(c.p_alive[part]),
            _floats(c.expected_90d[part]), money, _times(now, c.next_days[part], zone),
            _times(now, c.low_days[part], zone), _times(now, c.high_days[part], zone),
            _floats(c.churn_risk[part]), c.best_send_hour[part].tolist(), _dates(c.replenish_day[part]),
            _dates(c.remind_day[part]), [None if p is None else p[:128] for p in c.replenish_product[part]],
            [computed_at] * n,
        ]  # fmt: skip
        rows = list(zip(*columns, strict=True))
        if kind == "postgresql":
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            fastsql.run_many(session, fastsql.insert_sql(kind, "predictions", COLUMNS), rows)


def _floats(values: Vector) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # NaN is the one value unequal to itself


def _times(now: datetime, days: Vector, zone: str) -> list[str | None]:
    """`now` + days as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text (+ `zone`); None where days is NaN."""
    known = np.isfinite(days)
    base = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
    micros = np.rint(np.where(known, days, 0.0) * MICROS_PER_DAY).astype(np.int64)
    text = np.datetime_as_string(base + micros.astype("timedelta64[us]"), unit="us")
    return [
        f"{t[:10]} {t[11:]}{zone}" if k else None for t, k in zip(text.tolist(), known.tolist(), strict=True)
    ]


def _dates(days: IntArray) -> list[str | None]:
    text = np.datetime_as_string(np.datetime64("1970-01-01", "D") + np.maximum(days, 0), unit="D")
    return [t if d >= 0 else None for t, d in zip(text.tolist(), days.tolist(), strict=True)]


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
