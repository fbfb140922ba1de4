"""What RFM reads: each buyer's days since the last order, order count and net spend, in one grouped query
(over `orders`, or over `customer_stats` when the window is all history and no filter applies).

An order counts when it is completed, not cancelled and not fully refunded; spend is total − refunded over
completed, non-cancelled orders (the rule `customer_stats` follows). Customers with no counted order in
the window are not RFM customers: they get no score and no tier.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.tables import Source
from siyu.commerce.money import exponent
from siyu.core import fastsql
from siyu.core.database import chunks
from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings
from siyu.rfm.scoring import CutPoints, IntArray

DAY_S = 86_400
CHUNK = 1000  # ids per IN list


@dataclass(frozen=True)
class RfmConfig:
    """The settings a run used; incremental refreshes reuse them with the run's cut points."""

    window_days: int
    sources: tuple[str, ...]
    categories: tuple[str, ...]
    method: str
    thresholds: dict[str, list[float]]
    high_score: int
    currency: str

    @classmethod
    def from_settings(cls, s: Settings) -> RfmConfig:
        return cls(
            window_days=s.rfm_window_days,
            sources=tuple(s.rfm_order_sources),
            categories=tuple(s.rfm_order_categories),
            method=s.rfm_method,
            thresholds={k: list(v) for k, v in s.rfm_thresholds.items()},
            high_score=s.rfm_high_score,
            currency=s.default_currency,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RfmConfig:
        return cls(**{**data, "sources": tuple(data["sources"]), "categories": tuple(data["categories"])})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sources"], out["categories"] = list(self.sources), list(self.categories)
        return out

    @property
    def uses_stats(self) -> bool:
        """All history and no filter: `customer_stats` already holds the figures."""
        return self.window_days == 0 and not self.sources and not self.categories

    def operator_cuts(self) -> CutPoints:
        """The operator's thresholds with monetary converted from major to minor units."""
        scale = 10 ** exponent(self.currency)
        data = dict(self.thresholds)
        data["monetary"] = [v * scale for v in data.get("monetary", [])]
        try:
            return CutPoints.from_dict(data)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="rfm_thresholds") from exc


@dataclass(frozen=True)
class Facts:
    customer_id: IntArray
    recency_days: IntArray
    frequency: IntArray
    monetary: IntArray

    def __len__(self) -> int:
        return len(self.customer_id)


def _epoch(kind: str, expr: str) -> str:
    if kind == "sqlite":
        return f"CAST(strftime('%s', {expr}) AS INTEGER)"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {expr})) AS BIGINT)"


def _days_since(kind: str, epoch: str) -> str:
    """Whole days from `epoch` to the bound `now` (first parameter), never negative."""
    if kind == "sqlite":
        return f"max(0, ? - {epoch}) / {DAY_S}"
    return f"GREATEST(0, CAST(%s AS BIGINT) - {epoch}) / {DAY_S}"


def _marks(kind: str, n: int) -> str:
    return ", ".join(["?" if kind == "sqlite" else "%s"] * n)


def _stats_sql(kind: str, ids: int) -> str:
    where = f" AND customer_id IN ({_marks(kind, ids)})" if ids else ""
    recency = _days_since(kind, _epoch(kind, "last_order_at"))
    return (
        f"SELECT customer_id, {recency}, orders_count, total_spent_minor FROM customer_stats"  # noqa: S608
        f" WHERE orders_count > 0 AND last_order_at IS NOT NULL{where}"
    )


def _orders_sql(kind: str, *, since: bool, sources: int, categories: int, ids: int) -> str:
    counted = "o.status <> 'refunded'"
    where = ["o.completed_at IS NOT NULL", "o.status <> 'cancelled'"]
    if since:
        where.append(f"o.completed_at >= {_marks(kind, 1)}")
    if sources:
        where.append(f"o.source_id IN ({_marks(kind, sources)})")
    if categories:
        lines = "SELECT 1 FROM order_lines l WHERE l.order_pk = o.id AND l.category"
        where.append(f"EXISTS ({lines} IN ({_marks(kind, categories)}))")
    if ids:
        where.append(f"o.customer_id IN ({_marks(kind, ids)})")
    frequency = f"SUM(CASE WHEN {counted} THEN 1 ELSE 0 END)"
    recency = _days_since(kind, _epoch(kind, f"MAX(CASE WHEN {counted} THEN o.completed_at END)"))
    # fragments above come from code; values are bound parameters
    return (
        f"SELECT o.customer_id, {recency}, {frequency}, CAST(SUM(o.total_minor - o.refunded_minor) AS BIGINT)"  # noqa: S608
        f" FROM orders o WHERE {' AND '.join(where)} GROUP BY o.customer_id HAVING {frequency} > 0"
    )


def _source_ids(session: Session, names: Sequence[str]) -> list[int]:
    found = dict(session.execute(select(Source.name, Source.id).where(Source.name.in_(list(names)))).all())
    missing = sorted(set(names) - set(found))
    if missing:
        raise ValidationFailed(
            f"RFM order filter names unknown sources: {missing}", field="rfm_order_sources"
        )
    return sorted(int(i) for i in found.values())


def _query(session: Session, config: RfmConfig, now: datetime, ids: int) -> tuple[str, list[Any]]:
    """SELECT customer_id, recency_days, frequency, monetary (+ its leading parameters; `ids` marks for
    a customer_id IN list follow them)."""
    kind = fastsql.dialect(session)
    params: list[Any] = [int(now.timestamp())]
    if config.uses_stats:
        return _stats_sql(kind, ids), params
    sources = _source_ids(session, config.sources) if config.sources else []
    since = config.window_days > 0
    if since:
        params.append(fastsql.db_time(kind, now - timedelta(days=config.window_days)))
    params += [*sources, *config.categories]
    sql = _orders_sql(kind, since=since, sources=len(sources), categories=len(config.categories), ids=ids)
    return sql, params


def _arrays(rows: Sequence[Any], columns: int) -> IntArray:
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=columns * len(rows))
    return flat.reshape(len(rows), columns)


def load(session: Session, config: RfmConfig, now: datetime, ids: Sequence[int]) -> Facts:
    """Facts of these customers (one grouped query per 1000 ids), sorted by customer id."""
    conn = session.connection()
    rows: list[Any] = []
    for part in chunks(sorted(set(ids)), CHUNK):
        sql, params = _query(session, config, now, len(part))
        rows.extend(conn.exec_driver_sql(sql, (*params, *part)).fetchall())
    table = _arrays(rows, 4)
    table = table[np.argsort(table[:, 0], kind="stable")]  # by customer id, whatever the plan's order
    return Facts(*(np.ascontiguousarray(table[:, i]) for i in range(4)))


TEMP = {"sqlite": "temp.rfm_facts", "postgresql": "pg_temp.rfm_facts"}


def materialise(session: Session, config: RfmConfig, now: datetime) -> str:
    """Every RFM customer's facts into a temporary table (one grouped query, nothing through Python);
    returns its name. Drop it with `drop`."""
    kind = fastsql.dialect(session)
    name = TEMP[kind]
    conn = session.connection()
    drop(session)
    commit = " ON COMMIT DROP" if kind == "postgresql" else ""
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {name.split('.')[1]} (customer_id BIGINT, recency_days INTEGER,"
        f" frequency INTEGER, monetary BIGINT){commit}"
    )
    sql, params = _query(session, config, now, 0)
    conn.exec_driver_sql(f"INSERT INTO {name} {sql}", tuple(params))
    return name


def values(session: Session) -> tuple[IntArray, IntArray, IntArray]:
    """recency_days, frequency, monetary of the materialised facts (for the quintile cut points; each
    column on its own, their row order does not matter). PostgreSQL sends each column as one bytea of
    big-endian int8s (`string_agg` of `int8send`: one row, no per-row protocol message), SQLite through a
    plain cursor."""
    kind = fastsql.dialect(session)
    names = ("recency_days", "frequency", "monetary")
    if kind == "postgresql":
        packed = ", ".join(f"string_agg(int8send(CAST({c} AS BIGINT)), ''::bytea)" for c in names)
        row = session.connection().exec_driver_sql(f"SELECT {packed} FROM {TEMP[kind]}").one()  # noqa: S608
        r, f, m = (unpack_int8(packed) for packed in row)
        if not len(r) == len(f) == len(m):
            raise RuntimeError("RFM facts hold NULL values")  # the grouped query never writes one
        return r, f, m
    raw: Any = session.connection().connection.driver_connection
    table = _arrays(raw.execute(f"SELECT {', '.join(names)} FROM {TEMP[kind]}").fetchall(), 3)  # noqa: S608
    return table[:, 0], table[:, 1], table[:, 2]


def unpack_int8(packed: bytes | None) -> IntArray:
    """Concatenated big-endian int8s (PostgreSQL `int8send`) as an array; NULL (no rows) is empty."""
    return np.frombuffer(bytes(packed or b""), dtype=">i8").astype(np.int64)


def drop(session: Session) -> None:
    session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {TEMP[fastsql.dialect(session)]}")
