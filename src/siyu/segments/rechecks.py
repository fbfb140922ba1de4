"""Time re-checks: for conditions relative to today (last N days, birthday in N days, last order N days
ago), the next moment each customer's result can change, put on the queue as a future `due_at`.

Each such condition yields a query of `(customer_id, key)` — the oldest counted day in the window, a
trait's date, the last order's day — and a pure rule (`windows.next_change`) turns a key into a day.
Incremental evaluation runs the queries for its customers and maps keys in Python; a full rebuild maps
every possible key in a temporary table and schedules everyone in one INSERT … SELECT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from siyu.commerce.tables import Order, OrderLine
from siyu.core import fastsql
from siyu.core.database import UTCDateTime, insert_for, least
from siyu.customers.tables import CustomerStats, DailyEventCount, Trait
from siyu.events.tables import Event
from siyu.segments import activity, windows
from siyu.segments.compiler import Scope
from siyu.segments.conditions import (
    NUMBER_METRICS,
    BoughtCondition,
    EventCountCondition,
    LastDays,
    OrderCondition,
    TraitCondition,
    walk,
)
from siyu.segments.dialect import JsonRef
from siyu.segments.queue import enqueue
from siyu.segments.tables import EvaluationDue

DATE_OPS = ("within_last_days", "before_days_ago", "within_next_days", "anniversary_within_days")
KEYS = Table(
    "seg_recheck_keys",
    MetaData(),
    Column("rule_no", Integer),
    Column("k", String(10)),
    Column("due", UTCDateTime),
)


@dataclass(frozen=True)
class Recheck:
    query: Select[Any]  # (customer_id, key)
    rule: str
    days: int


def _min_day(scope: Scope, column: Any) -> Any:
    return scope.sql.local_day(func.min(column), scope.now)


def _event_count(scope: Scope, node: EventCountCondition) -> Recheck | None:
    if not isinstance(node.window, LastDays):
        return None
    if node.where:
        e = Event.__table__.c
        query = select(e.customer_id, _min_day(scope, e.timestamp)).where(
            *activity.raw_event_filters(scope, node)
        )
        query = scope.restricted(query, e.customer_id).group_by(e.customer_id)
    else:
        r = DailyEventCount.__table__.c
        query = select(r.customer_id, scope.sql.day_text(func.min(r.day))).where(
            *activity.rollup_filters(scope, node)
        )
        query = scope.restricted(query, r.customer_id).group_by(r.customer_id)
    return Recheck(query, "window", node.window.last_days)


def _order(scope: Scope, node: OrderCondition) -> Recheck | None:
    if node.metric in NUMBER_METRICS:
        if not isinstance(node.window, LastDays):
            return None
        o = Order.__table__.c
        query = select(o.customer_id, _min_day(scope, o.completed_at)).where(
            activity.completed(), *activity.order_window(scope, node)
        )
        return Recheck(
            scope.restricted(query, o.customer_id).group_by(o.customer_id), "window", node.window.last_days
        )
    if node.op not in ("within_last_days", "before_days_ago"):
        return None
    s = CustomerStats.__table__.c
    column = s.last_order_at if node.metric == "last_order_at" else s.first_order_at
    since = windows.midnight(scope.today - timedelta(days=node.days))
    query = select(s.customer_id, scope.sql.local_day(column, scope.now)).where(column >= since)
    return Recheck(scope.restricted(query, s.customer_id), "window", node.days)


def _bought(scope: Scope, node: BoughtCondition) -> Recheck | None:
    if not isinstance(node.window, LastDays):
        return None
    line, o = OrderLine.__table__.c, Order.__table__.c
    query = (
        select(line.customer_id, _min_day(scope, o.completed_at))
        .join(Order, Order.id == line.order_pk)
        .where(*activity.bought_filters(scope, node))
    )
    return Recheck(
        scope.restricted(query, line.customer_id).group_by(line.customer_id), "window", node.window.last_days
    )


def _trait(scope: Scope, node: TraitCondition) -> Recheck | None:
    if node.op not in DATE_OPS:
        return None
    t, days = Trait.__table__.c, int(node.value)  # type: ignore[arg-type]
    date_text = scope.sql.date_text(JsonRef(t.value))
    key: Any = date_text
    where: list[Any] = [date_text.is_not(None)]
    if node.op == "anniversary_within_days":
        key = func.substr(date_text, 6, 5)
    else:
        lowest = scope.today - timedelta(days=days + 1 if node.op != "within_next_days" else 0)
        where = [date_text >= lowest.isoformat()]
    query = select(t.customer_id, key).where(t.name == node.name, *where)
    return Recheck(scope.restricted(query, t.customer_id), node.op, days)


def rechecks(scope: Scope, roots: Iterable[Any]) -> list[Recheck]:
    """One re-check per distinct time-relative condition in these trees."""
    builders: dict[str, Any] = {
        "event_count": _event_count,
        "order": _order,
        "bought": _bought,
        "trait": _trait,
    }
    seen: set[bytes] = set()
    out: list[Recheck] = []
    for root in roots:
        for node in walk(root):
            build = builders.get(getattr(node, "type", ""))
            if build is None:
                continue
            fingerprint = orjson.dumps(node.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            found = build(scope, node)
            if found is not None:
                out.append(found)
    return out


def due_times(session: Session, scope: Scope, checks: list[Recheck]) -> dict[int, datetime]:
    """Incremental path: the earliest re-check of each customer in scope."""
    out: dict[int, datetime] = {}
    for check in checks:
        for cid, key in session.execute(check.query):
            if key is None:
                continue
            day = windows.next_change(check.rule, check.days, str(key), scope.today)
            if day is None:
                continue
            at = windows.midnight(day)
            if cid not in out or at < out[cid]:
                out[int(cid)] = at
    return out


def schedule(session: Session, scope: Scope, checks: list[Recheck]) -> None:
    """Put every customer's next re-check on the queue (incremental: a few rows; full: one statement)."""
    if not checks:
        return
    if scope.ids is not None:
        enqueue(session, due_times(session, scope, checks), "recheck")
        return
    _schedule_everyone(session, scope, checks)


def _keys_table(session: Session) -> None:
    kind = fastsql.dialect(session)
    stamp = "TIMESTAMPTZ" if kind == "postgresql" else "TIMESTAMP"
    tail = " ON COMMIT DROP" if kind == "postgresql" else ""
    columns = f"rule_no INTEGER, k VARCHAR(10), due {stamp}"
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS seg_recheck_keys ({columns}){tail}"))
    session.execute(delete(KEYS))


def _schedule_everyone(session: Session, scope: Scope, checks: list[Recheck]) -> None:
    _keys_table(session)
    rows: list[dict[str, Any]] = []
    parts: list[Select[Any]] = []
    horizon = windows.midnight(windows.horizon(scope.today))
    for number, check in enumerate(checks):
        keys = windows.key_range(check.rule, check.days, scope.today)
        for k in keys:
            day = windows.next_change(check.rule, check.days, k, scope.today)
            if day is not None:
                rows.append({"rule_no": number, "k": k, "due": windows.midnight(day)})
        sub = check.query.subquery()
        cid, key = sub.c[0], sub.c[1]
        if check.rule == "anniversary_within_days":
            parts.append(
                select(
                    cid.label("customer_id"),
                    literal(number).label("rule_no"),
                    key.label("k"),
                    literal(None, UTCDateTime).label("far"),
                )
            )
        else:
            far = case((key > keys[-1], literal(horizon, UTCDateTime)), else_=None)
            parts.append(
                select(
                    cid.label("customer_id"),
                    literal(number).label("rule_no"),
                    key.label("k"),
                    far.label("far"),
                )
            )
    if rows:
        session.execute(KEYS.insert(), rows)
    found = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    due = func.min(func.coalesce(KEYS.c.due, found.c.far))
    query = (
        select(found.c.customer_id, due, literal("recheck"))
        .select_from(found.outerjoin(KEYS, and_(KEYS.c.rule_no == found.c.rule_no, KEYS.c.k == found.c.k)))
        .where(found.c.customer_id.is_not(None))
        .group_by(found.c.customer_id)
        .having(due.is_not(None))
    )
    q = EvaluationDue.__table__.c
    stmt = insert_for(fastsql.dialect(session), EvaluationDue.__table__).from_select(
        ["customer_id", "due_at", "reason"], query
    )
    earlier = stmt.excluded.due_at < q.due_at
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={
            "due_at": least(fastsql.dialect(session), q.due_at, stmt.excluded.due_at),
            "reason": case((earlier, stmt.excluded.reason), else_=q.reason),
        },
    )
    session.execute(stmt)
    session.execute(delete(KEYS))
