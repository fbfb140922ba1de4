"""Time re-checks: for conditions relative to today (last N days, birthday in N days, last order N days
ago), the next moment each customer's result can change, put on the queue as a future `due_at`.

Each such condition yields a query of `(customer_id, key)` — the oldest counted day in the window, a
trait's date, the last order's day — and a pure rule (`windows.next_change`) turns a key into a day.
Incremental evaluation runs the queries for its customers and maps keys in Python. For everyone (a full
rebuild, and the daily `segments.rechecks` job) only the keys changing within the next few days go into a
temporary table, joined in one INSERT … SELECT: a day's slice of customers, not everyone with a birthday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
from siyu.core.database import UTCDateTime, insert_for
from siyu.customers.tables import CustomerStats, DailyEventCount, Trait
from siyu.events.tables import Event
from siyu.segments import activity, windows
from siyu.segments.compiler import Scope, scope_for
from siyu.segments.conditions import (
    NUMBER_METRICS,
    BoughtCondition,
    EventCountCondition,
    LastDays,
    OrderCondition,
    TraitCondition,
    walk,
)
from siyu.segments.dialect import CreateTempAs, JsonRef
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
    """`query` gives (customer_id, key) rows — for windows one row per counted day or event, whose
    earliest change is the oldest one's — and `rule` maps a key to the day it can next change."""

    query: Select[Any]
    rule: str
    days: int


def _event_count(scope: Scope, node: EventCountCondition) -> Recheck | None:
    if not isinstance(node.window, LastDays):
        return None
    if node.where:
        e = Event.__table__.c
        day = scope.sql.local_day(e.timestamp, scope.now)
        query = select(e.customer_id, day).where(*activity.raw_event_filters(scope, node))
        return Recheck(scope.restricted(query, e.customer_id), "window", node.window.last_days)
    r = DailyEventCount.__table__.c
    query = select(r.customer_id, scope.sql.day_text(r.day)).where(*activity.rollup_filters(scope, node))
    return Recheck(scope.restricted(query, r.customer_id), "window", node.window.last_days)


def _order(scope: Scope, node: OrderCondition) -> Recheck | None:
    if node.metric in NUMBER_METRICS:
        if not isinstance(node.window, LastDays):
            return None
        o = Order.__table__.c
        query = select(o.customer_id, scope.sql.local_day(o.completed_at, scope.now)).where(
            activity.completed(), *activity.order_window(scope, node)
        )
        return Recheck(scope.restricted(query, o.customer_id), "window", node.window.last_days)
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
        select(line.customer_id, scope.sql.local_day(o.completed_at, scope.now))
        .join(Order, Order.id == line.order_pk)
        .where(*activity.bought_filters(scope, node))
    )
    return Recheck(scope.restricted(query, line.customer_id), "window", node.window.last_days)


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


def schedule(
    session: Session,
    scope: Scope,
    checks: list[Recheck],
    *,
    until: date | None = None,
    now: datetime | None = None,
) -> None:
    """Put customers' next re-checks on the queue. Restricted scope (incremental): each customer's exact
    next change, however far. Everyone (full rebuild, the daily job): the changes after `scope.today` up to
    `until` (default: `windows.HORIZON_DAYS` ahead) in one INSERT … SELECT; the daily job adds the next
    days. A change already past (`scope` is the job's previous run) is due `now`."""
    if not checks:
        return
    if scope.ids is not None:
        enqueue(session, due_times(session, scope, checks), "recheck")
        return
    _schedule_slice(session, scope, checks, until or windows.horizon(scope.today), now or scope.now)


def schedule_all(session: Session, roots: list[Any], since: datetime, now: datetime) -> int:
    """The periodic catch-up: re-checks of everyone whose result changes between `since` (the previous
    run; queries are made as of then, so a missed run loses nothing) and the horizon after `now`."""
    scope = scope_for(session, min(since, now))
    checks = rechecks(scope, roots)
    schedule(session, scope, checks, until=windows.horizon(windows.today(now)), now=now)
    return len(checks)


def _keys_table(session: Session) -> None:
    kind = fastsql.dialect(session)
    stamp = "TIMESTAMPTZ" if kind == "postgresql" else "TIMESTAMP"
    tail = " ON COMMIT DROP" if kind == "postgresql" else ""
    columns = f"rule_no INTEGER, k VARCHAR(10), due {stamp}"
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS seg_recheck_keys ({columns}){tail}"))
    session.execute(delete(KEYS))


def slice_keys(check: Recheck, since: date, last: date, now: datetime) -> list[dict[str, Any]]:
    """Keys whose first change after `since` comes on or before `last`, with when it is due."""
    out = []
    for key in windows.candidate_keys(check.rule, check.days, since, last):
        day = windows.next_change(check.rule, check.days, key, since)
        if day is not None and day <= last:
            out.append({"k": key, "due": max(windows.midnight(day), now)})
    return out


def _schedule_slice(session: Session, scope: Scope, checks: list[Recheck], last: date, now: datetime) -> None:
    _keys_table(session)
    rows: list[dict[str, Any]] = []
    parts: list[Select[Any]] = []
    for number, check in enumerate(checks):
        keys = slice_keys(check, scope.today, last, now)
        if not keys:
            continue
        rows.extend({"rule_no": number, **k} for k in keys)
        sub = check.query.subquery()
        parts.append(
            select(sub.c[0].label("customer_id"), literal(number).label("rule_no"), sub.c[1].label("k"))
        )
    if not parts:
        return
    session.execute(KEYS.insert(), rows)
    if fastsql.dialect(session) == "postgresql":
        session.execute(text("ANALYZE seg_recheck_keys"))  # temporary tables have no statistics otherwise
    found = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    due = func.min(KEYS.c.due)
    # grouped by an expression, so SQLite reads the rows through the conditions' own indexes (an event
    # name's time range) instead of walking a whole table in customer order to avoid a sort
    customer = (found.c.customer_id + 0).label("customer_id")
    query = (
        select(customer, due, literal("recheck"))
        .select_from(found.join(KEYS, and_(KEYS.c.rule_no == found.c.rule_no, KEYS.c.k == found.c.k)))
        .where(found.c.customer_id.is_not(None))  # SQLite: a WHERE before ON CONFLICT in INSERT … SELECT
        .group_by(customer)
    )
    if fastsql.dialect(session) == "postgresql":  # CREATE TABLE AS may scan in parallel; INSERT may not
        session.execute(text("DROP TABLE IF EXISTS seg_recheck_due"))
        session.execute(CreateTempAs("seg_recheck_due", query))
        query = select(text("*")).select_from(text("seg_recheck_due"))
    q = EvaluationDue.__table__.c
    stmt = insert_for(fastsql.dialect(session), EvaluationDue.__table__).from_select(
        ["customer_id", "due_at", "reason"], query
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={"due_at": stmt.excluded.due_at, "reason": stmt.excluded.reason},
        where=stmt.excluded.due_at < q.due_at,  # an earlier time stays, and is not rewritten
    )
    session.execute(stmt)
    session.execute(delete(KEYS))
