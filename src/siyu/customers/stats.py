"""Per-customer stats and daily rollups: incremental upserts on ingestion, and from-scratch rebuilds.

Order figures follow one rule everywhere: an order counts once it is completed and not fully refunded;
spend is `total - refunded` over completed orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.orm import Session

from siyu.commerce.tables import Order
from siyu.core import fastsql
from siyu.core.database import cached_statement, insert_for
from siyu.core.settings import get_settings
from siyu.customers.tables import CustomerStats, DailyEventCount
from siyu.events.tables import Event


@dataclass
class EventTally:
    """Events of one customer: how many, and the first and last event time in the database's form
    (`fastsql.db_time`: text on SQLite, which orders as the times do; datetimes on PostgreSQL)."""

    count: int
    first: Any
    last: Any

    def add(self, when: Any) -> None:
        self.count += 1
        self.first = min(self.first, when)
        self.last = max(self.last, when)


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(when: datetime) -> date:
    """The brand-local calendar day of `when` (rollups are by the brand's day)."""
    return when.astimezone(_zone(get_settings().timezone)).date()


def rollup_name(kind: str, name: str | None) -> str:
    """Rollup key: the event name for `track`, `$<type>` for the other message types."""
    return (name or "") if kind == "track" else f"${kind}"


def _tally_sql(kind: str) -> str:
    low, high = ("min", "max") if kind == "sqlite" else ("least", "greatest")
    table = "customer_stats"
    insert = fastsql.insert_sql(
        kind,
        table,
        [
            "customer_id",
            "events_count",
            "first_seen_at",
            "last_seen_at",
            "orders_count",
            "total_spent_minor",
            "refunded_minor",
        ],
    )
    return (
        f"{insert} ON CONFLICT (customer_id) DO UPDATE SET"
        f" events_count = {table}.events_count + excluded.events_count,"
        f" first_seen_at = {low}(coalesce({table}.first_seen_at, excluded.first_seen_at),"
        " excluded.first_seen_at),"
        f" last_seen_at = {high}(coalesce({table}.last_seen_at, excluded.last_seen_at),"
        " excluded.last_seen_at)"
    )


def add_event_tallies(session: Session, tallies: Mapping[int, EventTally]) -> None:
    rows = [(cid, t.count, t.first, t.last, 0, 0, 0) for cid, t in sorted(tallies.items())]
    fastsql.run_many(session, cached_statement(session, "stats.tallies", _tally_sql), rows)


def _rollup_sql(kind: str) -> str:
    return fastsql.upsert_add_sql(kind, "daily_event_counts", ["customer_id", "day", "event"], ["count"])


def add_rollups(session: Session, counts: Mapping[tuple[int, date, str], int]) -> None:
    kind = fastsql.dialect(session)
    rows = [(c, d.isoformat() if kind == "sqlite" else d, e, n) for (c, d, e), n in sorted(counts.items())]
    fastsql.run_many(session, cached_statement(session, "stats.rollups", _rollup_sql), rows)


def _order_aggregates(session: Session, customer_ids: Iterable[int]) -> dict[int, dict[str, object]]:
    query = cached_statement(session, "stats.order_aggregates", _order_aggregates_query)
    out: dict[int, dict[str, object]] = {}
    for cid, count, spent, refunded, first, last, currency in session.execute(
        query, {"ids": list(customer_ids)}
    ):
        out[cid] = {
            "orders_count": int(count or 0),
            "total_spent_minor": int(spent or 0),
            "refunded_minor": int(refunded or 0),
            "first_order_at": _dt(first),
            "last_order_at": _dt(last),
            "currency": currency,
        }
    return out


def _order_aggregates_query(_dialect: str) -> Any:
    """Built once (building it cost as much as running it); the customer ids are an expanding parameter."""
    o = Order.__table__.c
    completed = o.completed_at.is_not(None) & (o.status != "cancelled")
    counted = completed & (o.status != "refunded")
    return (
        select(
            o.customer_id,
            func.sum(case((counted, 1), else_=0)),
            func.sum(case((completed, o.total_minor - o.refunded_minor), else_=0)),
            func.sum(case((completed, o.refunded_minor), else_=0)),
            func.min(case((counted, o.completed_at))),
            func.max(case((counted, o.completed_at))),
            func.max(o.currency),
        )
        .where(o.customer_id.in_(bindparam("ids", expanding=True)))
        .group_by(o.customer_id)
    )


def _dt(value: object) -> datetime | None:
    """Aggregates over a CASE lose the column type on SQLite; parse the stored text back."""
    from siyu.core.clock import as_utc

    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value)))


_EMPTY_ORDERS: dict[str, object] = {
    "orders_count": 0,
    "total_spent_minor": 0,
    "refunded_minor": 0,
    "first_order_at": None,
    "last_order_at": None,
    "currency": None,
}


def refresh_order_stats(session: Session, customer_ids: Iterable[int]) -> None:
    """Recompute the order figures of these customers from their orders (O(their orders))."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    aggregates = _order_aggregates(session, ids)
    rows = [{"customer_id": cid, "events_count": 0, **aggregates.get(cid, _EMPTY_ORDERS)} for cid in ids]
    session.execute(cached_statement(session, "stats.orders", _orders_upsert), rows)


def _orders_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, CustomerStats.__table__)
    return stmt.on_conflict_do_update(
        index_elements=[CustomerStats.__table__.c.customer_id],
        set_={f: stmt.excluded[f] for f in _EMPTY_ORDERS},
    )


def rebuild(session: Session, customer_id: int) -> None:
    """Recompute stats and rollups of one customer from their events and orders (merges, undo).
    Events siyu wrote itself (segment entered, stage changed, …) are not activity and are not counted."""
    e = Event.__table__.c
    session.execute(delete(DailyEventCount).where(DailyEventCount.customer_id == customer_id))
    session.execute(delete(CustomerStats).where(CustomerStats.customer_id == customer_id))
    tallies: dict[int, EventTally] = {}
    counts: dict[tuple[int, date, str], int] = {}
    from siyu.events.system import system_source_id  # events imports customers; import late

    system = system_source_id(session)
    dialect = fastsql.dialect(session)
    for kind, name, when in session.execute(
        select(e.type, e.name, e.timestamp).where(e.customer_id == customer_id, e.source_id != system)
    ):
        stored_when = fastsql.db_time(dialect, when)
        tally = tallies.get(customer_id)
        if tally is None:
            tallies[customer_id] = EventTally(1, stored_when, stored_when)
        else:
            tally.add(stored_when)
        key = (customer_id, local_day(when), rollup_name(kind, name))
        counts[key] = counts.get(key, 0) + 1
    add_event_tallies(session, tallies)
    add_rollups(session, counts)
    refresh_order_stats(session, [customer_id])
