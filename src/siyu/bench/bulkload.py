"""Generate the bench brand (the demo's catalogue, people and behaviour, vectorised) and bulk-load the state
ingestion would have produced: customers, identities, traits, events, orders, stats, rollups, staff,
owners, consents and tags. Far faster than the HTTP path; `stats.rebuild` must agree with what it writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.bench.seg_calendar import US
from siyu.bench.seg_event_rows import EventRows
from siyu.bench.seg_model import Brand, BrandSize, build
from siyu.bench.seg_people import DEPARTMENTS
from siyu.bench.seg_rows import BENCH_TAG_GROUP, BENCH_TAGS, CustomerRows, IdBase, Row, times
from siyu.bench.seg_sink import Sink, open_sink
from siyu.core.clock import now as clock_now
from siyu.core.database import dispose_engines, unit_of_work
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer, Identity, TraitChange
from siyu.demo import catalog, loader
from siyu.events.tables import Event
from siyu.migrations import upgrade
from siyu.tags.tables import Tag, TagChange, TagGroup

Progress = Callable[[str, int, int], None]  # (phase, done, total)
TABLES = (
    "customers",
    "customer_stats",
    "identities",
    "trait_history",
    "traits",
    "orders",
    "order_lines",
    "events",
    "daily_event_counts",
    "staff",
    "customer_owners",
    "consents",
    "customer_tags",
    "tag_history",
)
SERIAL = (
    "customers",
    "identities",
    "trait_history",
    "orders",
    "order_lines",
    "events",
    "tag_history",
    "staff",
)
CUSTOMER_CHUNK = 20_000
ROW_CHUNK = 200_000

COLUMNS = {
    "customers": ("id", "created_at"),
    "customer_stats": (
        "customer_id",
        "first_seen_at",
        "last_seen_at",
        "events_count",
        "orders_count",
        "total_spent_minor",
        "refunded_minor",
        "first_order_at",
        "last_order_at",
        "currency",
    ),
    "identities": ("id", "customer_id", "type", "lookup", "value", "value_enc", "source_id", "first_seen_at"),
    "trait_history": (
        "id",
        "customer_id",
        "name",
        "value",
        "value_enc",
        "observed_at",
        "recorded_at",
        "origin",
    ),
    "traits": ("customer_id", "name", "value", "value_enc", "observed_at", "history_id"),
    "orders": (
        "id",
        "customer_id",
        "source_id",
        "external_id",
        "status",
        "currency",
        "total_minor",
        "subtotal_minor",
        "discount_minor",
        "shipping_minor",
        "tax_minor",
        "refunded_minor",
        "coupon",
        "completed_at",
        "refunded_at",
        "properties",
    ),
    "order_lines": (
        "id",
        "order_pk",
        "customer_id",
        "position",
        "product_id",
        "sku",
        "name",
        "category",
        "brand",
        "price_minor",
        "quantity",
    ),
    "events": (
        "id",
        "customer_id",
        "source_id",
        "message_id",
        "type",
        "name",
        "user_id",
        "anonymous_id",
        "timestamp",
        "original_timestamp",
        "sent_at",
        "received_at",
        "properties",
        "context",
        "pii_enc",
    ),
    "daily_event_counts": ("customer_id", "day", "event", "count"),
    "staff": ("id", "userid", "name", "department", "active", "created_at"),
    "customer_owners": ("customer_id", "staff_id", "assigned_at"),
    "consents": ("customer_id", "channel", "purpose", "status", "updated_at", "origin"),
    "customer_tags": ("customer_id", "tag_id", "added_at", "added_by"),
    "tag_history": ("id", "customer_id", "tag_id", "action", "at", "actor", "reason"),
}


class AlreadyLoaded(RuntimeError):
    """The database already holds customers: the bench loads into an empty one only."""


@dataclass
class LoadResult:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _next_id(session: Session, column: object) -> int:
    return int(session.scalar(select(func.coalesce(func.max(column), 0))) or 0) + 1  # type: ignore[call-overload]


def _prepare(url: str) -> tuple[dict[str, int], IdBase, list[int]]:
    """Migrate, check the database is empty, create sources, products and the bench tags."""
    upgrade(url)
    from siyu.commerce.ecommerce import upsert_products
    from siyu.commerce.tables import Order, OrderLine
    from siyu.staff.tables import Staff

    with unit_of_work(url) as session:
        if session.scalar(select(func.count()).select_from(Customer)):
            raise AlreadyLoaded(f"{url} already holds customers")
        sources = loader.ensure_sources(session).ids
        at = clock_now()
        rows = {
            p.product_id: {
                "product_id": p.product_id,
                "sku": p.sku,
                "name": p.name,
                "category": p.category,
                "brand": catalog.BRAND,
                "price_minor": int(p.price * 100),
                "currency": catalog.CURRENCY,
                "updated_at": at,
            }
            for p in catalog.PRODUCTS
        }
        upsert_products(session, rows)
        group = session.scalar(select(TagGroup).where(TagGroup.name == BENCH_TAG_GROUP))
        if group is None:
            group = TagGroup(
                name=BENCH_TAG_GROUP, category="custom", kind="static", exclusive=False, created_at=at
            )
            session.add(group)
            session.flush()
        tag_ids = []
        for name, _share in BENCH_TAGS:
            tag = session.scalar(select(Tag).where(Tag.group_id == group.id, Tag.name == name))
            if tag is None:
                tag = Tag(group_id=group.id, name=name, rule_version=0, created_at=at)
                session.add(tag)
                session.flush()
            tag_ids.append(tag.id)
        base = IdBase(
            customer=_next_id(session, Customer.id),
            event=_next_id(session, Event.id),
            order=_next_id(session, Order.id),
            line=_next_id(session, OrderLine.id),
            identity=_next_id(session, Identity.id),
            history=_next_id(session, TraitChange.id),
            tag_history=_next_id(session, TagChange.id),
            staff=_next_id(session, Staff.id),
        )
    dispose_engines()
    return sources, base, tag_ids


def _staff_rows(brand: Brand, base: IdBase, loaded: str | None) -> tuple[list[Row], list[str]]:
    userids = [f"advisor_{i + 1:04d}" for i in range(brand.people.staff_count)]
    rows: list[Row] = [
        (
            base.staff + i,
            userid,
            f"顾问{brand.strings.name(i % brand.people.count)}",
            DEPARTMENTS[int(d)][0],
            True,
            loaded,
        )
        for i, (userid, d) in enumerate(zip(userids, brand.staff_department.tolist(), strict=True))
    ]
    return rows, userids


def load(url: str, size: BrandSize, now: datetime, progress: Progress) -> LoadResult:
    """Generate and load the brand into the (migrated, empty) database at `url`."""
    result = LoadResult()
    started = time.perf_counter()
    progress("preparing the database", 0, 1)
    sources, base, tag_ids = _prepare(url)
    progress("generating the brand (NumPy)", 0, 1)
    brand = build(size, now, get_settings().timezone)
    result.seconds["generate"] = round(time.perf_counter() - started, 2)
    vault = get_vault()
    sink = open_sink(url)
    try:
        sink.prepare(TABLES)
        loaded = times_at(clock_now())
        staff, userids = _staff_rows(brand, base, loaded)
        _write(sink, result, "staff", staff)
        people = CustomerRows(brand, base, sources, vault, clock_now())
        _customers(sink, result, people, brand.people.count, tag_ids, progress)
        _events(sink, result, EventRows(brand, base, sources, vault, userids), len(brand.events), progress)
        _chunked(sink, result, "daily_event_counts", len(brand.rollups.count), people.rollups, progress)
        progress("recreating indexes and constraints", 0, 1)
        mark = time.perf_counter()
        sink.finish(TABLES, SERIAL)
        result.seconds["finish"] = round(time.perf_counter() - mark, 2)
        result.seconds.update({f"finish_{k}": round(v, 2) for k, v in sink.timings.items()})
    finally:
        sink.close()
    result.seconds["total"] = round(time.perf_counter() - started, 2)
    return result


def times_at(when: datetime) -> str | None:
    return times(np.array([int(when.timestamp() * US)]))[0]


def _write(sink: Sink, result: LoadResult, table: str, rows: list[Row]) -> None:
    mark = time.perf_counter()
    sink.write(table, COLUMNS[table], rows)
    result.rows[table] = result.rows.get(table, 0) + len(rows)
    key = f"write_{table}"
    result.seconds[key] = round(result.seconds.get(key, 0.0) + time.perf_counter() - mark, 2)


def _customers(
    sink: Sink, result: LoadResult, rows: CustomerRows, count: int, tag_ids: list[int], progress: Progress
) -> None:
    for lo in range(0, count, CUSTOMER_CHUNK):
        hi = min(count, lo + CUSTOMER_CHUNK)
        progress("customers, identities, traits", lo, count)
        _write(sink, result, "customers", rows.customers(lo, hi))
        _write(sink, result, "customer_stats", rows.stats(lo, hi))
        _write(sink, result, "identities", rows.identities(lo, hi))
        history, current = rows.traits(lo, hi)
        _write(sink, result, "trait_history", history)
        _write(sink, result, "traits", current)
        _write(sink, result, "customer_owners", rows.owners(lo, hi))
        _write(sink, result, "consents", rows.consents(lo, hi))
        tagged, tag_history = rows.tags(lo, hi, tag_ids)
        _write(sink, result, "customer_tags", tagged)
        _write(sink, result, "tag_history", tag_history)
        sink.commit()
    progress("customers, identities, traits", count, count)


def _events(sink: Sink, result: LoadResult, rows: EventRows, total: int, progress: Progress) -> None:
    """Events in time order, with the orders (and their lines) they complete."""
    for lo in range(0, total, ROW_CHUNK):
        progress("events, orders", lo, total)
        part = rows.slice(lo, min(total, lo + ROW_CHUNK))
        _write(sink, result, "orders", part.orders)
        _write(sink, result, "order_lines", part.lines)
        _write(sink, result, "events", part.events)
        sink.commit()
    progress("events, orders", total, total)


def _chunked(
    sink: Sink,
    result: LoadResult,
    table: str,
    total: int,
    make: Callable[[int, int], list[Row]],
    progress: Progress,
    step: int = ROW_CHUNK,
) -> None:
    for lo in range(0, total, step):
        progress(table, lo, total)
        _write(sink, result, table, make(lo, min(total, lo + step)))
        sink.commit()
    progress(table, total, total)
