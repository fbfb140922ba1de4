"""Test support: random message sequences, whole-database snapshots, and from-scratch recomputation
written independently of siyu's own materialisation code (so the comparison can fail)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.events.ingest import IngestReport, ingest

BASE = datetime(2026, 1, 1, tzinfo=UTC)
USERS = [f"u{i}" for i in range(4)]
ANONS = [f"a{i}" for i in range(4)]
PHONES = ["13900000001", "13900000002", "13900000003"]
EMAILS = ["x@example.com", "y@example.com"]


def _customer_tables() -> list[str]:
    """Every table holding customer data, children first (new capabilities' tables included)."""
    from siyu.core.models import metadata

    return [
        t.name
        for t in reversed(metadata.sorted_tables)
        if "customer_id" in t.c or t.name in ("customers", "merges")
    ]


TABLES = _customer_tables()


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["identify", "track", "track", "alias", "order", "refund", "page"]))
    minutes = draw(st.integers(0, 60 * 24 * 10))
    msg: dict[str, Any] = {"timestamp": (BASE + timedelta(minutes=minutes)).isoformat()}
    user = draw(st.none() | st.sampled_from(USERS))
    anon = draw(st.none() | st.sampled_from(ANONS))
    if user is None and anon is None:
        anon = draw(st.sampled_from(ANONS))
    if kind == "alias":
        return {
            **msg,
            "type": "alias",
            "userId": draw(st.sampled_from(USERS)),
            "previousId": draw(st.sampled_from(ANONS + USERS)),
        }
    if user:
        msg["userId"] = user
    if anon:
        msg["anonymousId"] = anon
    if kind == "identify":
        traits: dict[str, Any] = {}
        if draw(st.booleans()):
            traits["phone"] = draw(st.sampled_from(PHONES))
        if draw(st.booleans()):
            traits["email"] = draw(st.sampled_from(EMAILS))
        if draw(st.booleans()):
            traits["plan"] = draw(st.sampled_from(["free", "gold", "vip"]))
        if draw(st.booleans()):
            traits["name"] = draw(st.sampled_from(["张三", "李四"]))
        return {**msg, "type": "identify", "traits": traits}
    if kind in ("order", "refund"):
        order_id = draw(st.sampled_from(["o1", "o2", "o3"]))
        props: dict[str, Any] = {"order_id": order_id}
        if kind == "order":
            props["total"] = str(draw(st.integers(1, 50000))) + "." + str(draw(st.integers(0, 99))).zfill(2)
            event = "Order Completed"
        else:
            if draw(st.booleans()):
                props["total"] = str(draw(st.integers(1, 20000)))
            event = "Order Refunded"
        return {**msg, "type": "track", "event": event, "properties": props}
    if kind == "page":
        return {**msg, "type": "page", "name": draw(st.sampled_from(["home", "product"]))}
    return {
        **msg,
        "type": "track",
        "event": draw(st.sampled_from(["Viewed", "Clicked"])),
        "properties": {"n": draw(st.integers(0, 3))},
    }


def batches() -> st.SearchStrategy[list[list[dict[str, Any]]]]:
    return st.lists(st.lists(messages(), min_size=1, max_size=3), min_size=1, max_size=12)


def wipe(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        for table in TABLES:
            session.execute(text(f"DELETE FROM {table}"))
    session.commit()


def ensure_source(session: Session) -> int:
    from siyu.auth.service import create_source
    from siyu.auth.tables import Source

    row = session.query(Source).filter_by(name="prop").one_or_none()
    if row is None:
        row, _key = create_source(session, "prop")
        session.commit()
    return row.id


def send(session: Session, source_id: int, batch: list[dict[str, Any]], counter: list[int]) -> IngestReport:
    raws = []
    for m in batch:
        counter[0] += 1
        raws.append({**m, "messageId": f"m{counter[0]}"})
    report = ingest(
        session,
        get_settings(),
        get_vault(),
        source_id=source_id,
        raws=raws,
        received_at=BASE + timedelta(days=30),
    )
    session.commit()
    return report


def snapshot(session: Session) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in session.execute(text(sql))]

    stats = {
        r[0]: r[1:]
        for r in rows(
            "SELECT customer_id, first_seen_at, last_seen_at, events_count, orders_count, total_spent_minor,"
            " refunded_minor, first_order_at, last_order_at FROM customer_stats"
        )
        if r[3] or r[4] or r[5] or r[6]
    }
    return {
        "customers": dict(rows("SELECT id, merged_into_id FROM customers")),
        "identities": {(t, lk): c for t, lk, c in rows("SELECT type, lookup, customer_id FROM identities")},
        "events": dict(rows("SELECT id, customer_id FROM events")),
        "orders": dict(rows("SELECT id, customer_id FROM orders")),
        "order_lines": dict(rows("SELECT id, customer_id FROM order_lines")),
        "trait_history": dict(rows("SELECT id, customer_id FROM trait_history")),
        "traits": {
            (c, n): (h, o)
            for c, n, h, o in rows("SELECT customer_id, name, history_id, observed_at FROM traits")
        },
        "stats": stats,
        "rollups": {
            (c, str(d), e): n
            for c, d, e, n in rows("SELECT customer_id, day, event, count FROM daily_event_counts")
            if n
        },
    }


def _ts(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def recompute(
    session: Session,
) -> tuple[dict[int, tuple[Any, ...]], dict[tuple[int, str, str], int], dict[tuple[int, str], int]]:
    """Stats, rollups and current-trait history ids from raw rows, by the documented rules."""
    zone = ZoneInfo(get_settings().timezone)
    events: dict[int, list[datetime]] = defaultdict(list)
    rollups: dict[tuple[int, str, str], int] = defaultdict(int)
    for cid, kind, name, ts in session.execute(text("SELECT customer_id, type, name, timestamp FROM events")):
        when = _ts(ts)
        events[cid].append(when)
        label = (name or "") if kind == "track" else f"${kind}"
        rollups[(cid, str(when.astimezone(zone).date()), label)] += 1
    orders: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for cid, status, total, refunded, done in session.execute(
        text("SELECT customer_id, status, total_minor, refunded_minor, completed_at FROM orders")
    ):
        orders[cid].append((status, total, refunded, None if done is None else _ts(done)))
    stats: dict[int, tuple[Any, ...]] = {}
    for cid in set(events) | set(orders):
        completed = [o for o in orders[cid] if o[3] is not None and o[0] != "cancelled"]
        counted = [o for o in completed if not (o[2] >= o[1] and o[2] > 0)]
        times = events[cid]
        row = (
            min(times) if times else None,
            max(times) if times else None,
            len(times),
            len(counted),
            sum(o[1] - o[2] for o in completed),
            sum(o[2] for o in completed),
            min((o[3] for o in counted), default=None),
            max((o[3] for o in counted), default=None),
        )
        if row[2] or row[3] or row[4] or row[5]:
            stats[cid] = row
    latest: dict[tuple[int, str], tuple[datetime, int]] = {}
    for hid, cid, name, observed in session.execute(
        text("SELECT id, customer_id, name, observed_at FROM trait_history")
    ):
        cand = (_ts(observed), hid)
        if (cid, name) not in latest or cand > latest[(cid, name)]:
            latest[(cid, name)] = cand
    return stats, dict(rollups), {k: v[1] for k, v in latest.items()}


def normalised_stats(snap: dict[str, Any]) -> dict[int, tuple[Any, ...]]:
    return {
        cid: tuple(_ts(v) if isinstance(v, str | datetime) else v for v in row)
        for cid, row in snap["stats"].items()
    }
