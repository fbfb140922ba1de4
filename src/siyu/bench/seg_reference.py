"""The physical-limit reference for RFM: the same grouped query over the same orders, exported once to
Parquet and run by DuckDB (only the query is timed), plus the host description every figure carries.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.bench.ingest import _code_version
from siyu.core import fastsql
from siyu.core.settings import get_settings

# recency, frequency and net spend per buyer, then 1-5 quintile scores: what `rfm.service` computes
RFM_SQL = """
WITH facts AS (
    SELECT customer_id,
           (? - max(CASE WHEN status <> 'refunded' THEN completed END)) // 86400 AS recency_days,
           sum(CASE WHEN status <> 'refunded' THEN 1 ELSE 0 END) AS frequency,
           sum(net) AS monetary
    FROM read_parquet(?)
    WHERE completed >= ?
    GROUP BY customer_id
    HAVING sum(CASE WHEN status <> 'refunded' THEN 1 ELSE 0 END) > 0
)
SELECT count(*), sum(r), sum(f), sum(m) FROM (
    SELECT 6 - ntile(5) OVER (ORDER BY recency_days) AS r,
           ntile(5) OVER (ORDER BY frequency) AS f,
           ntile(5) OVER (ORDER BY monetary) AS m
    FROM facts
)
"""


def export_orders(session: Session, folder: Path) -> tuple[Path, float, int]:
    """Completed, non-cancelled orders as Parquet: (path, seconds it took, rows)."""
    started = time.perf_counter()
    kind = fastsql.dialect(session)
    epoch = (
        "CAST(strftime('%s', completed_at) AS INTEGER)"
        if kind == "sqlite"
        else "CAST(FLOOR(EXTRACT(EPOCH FROM completed_at)) AS BIGINT)"
    )
    sql = text(
        f"SELECT customer_id, {epoch}, total_minor - refunded_minor, status FROM orders"  # noqa: S608
        " WHERE completed_at IS NOT NULL AND status <> 'cancelled'"
    )
    rows = session.execute(sql).all()
    frame = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "completed": [r[1] for r in rows],
            "net": [r[2] for r in rows],
            "status": [r[3] for r in rows],
        },
        schema={"customer_id": pl.Int64, "completed": pl.Int64, "net": pl.Int64, "status": pl.Utf8},
    )
    path = folder / "orders.parquet"
    frame.write_parquet(path)
    return path, time.perf_counter() - started, len(rows)


def duckdb_rfm(path: Path, now: datetime, repeats: int = 3) -> tuple[float, int]:
    """Median seconds of the RFM query over `path` (one thread per core), and the buyers it scored."""
    window = get_settings().rfm_window_days
    since = int((now - timedelta(days=window)).timestamp()) if window else 0
    times: list[float] = []
    buyers = 0
    with duckdb.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            row = conn.execute(RFM_SQL, [int(now.timestamp()), str(path), since]).fetchone()
            times.append(time.perf_counter() - started)
            buyers = int(row[0]) if row else 0
    return statistics.median(times), buyers


def reference(session: Session, now: datetime) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="siyu-bench-duckdb-") as folder:
        path, export_s, rows = export_orders(session, Path(folder))
        seconds, buyers = duckdb_rfm(path, now)
    return {
        "duckdb_reference_s": round(seconds, 3),
        "export_s": round(export_s, 2),
        "orders": rows,
        "buyers": buyers,
    }


def host() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_avg": [round(one, 2), round(five, 2), round(fifteen, 2)],
        "siyu": _code_version(),
    }
