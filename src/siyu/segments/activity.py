"""Activity conditions as sets of customer ids: event counts (daily rollups, or raw events when property
filters need them), order aggregates (per-customer stats, or orders in a window) and products bought.

Counting follows `siyu.customers.stats`: an order counts once completed and not fully refunded; spend is
`total - refunded` over completed orders. Windows are brand-local days.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, func, literal, select

from siyu.commerce.tables import Order, OrderLine
from siyu.customers.tables import CustomerStats, DailyEventCount
from siyu.events.tables import Event
from siyu.segments import windows
from siyu.segments.compiler import NodeSet, Scope
from siyu.segments.conditions import BoughtCondition, EventCountCondition, OrderCondition
from siyu.segments.dialect import JsonRef, compare, holds

OPPOSITE = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "lte": "gt", "gt": "lte"}


def _counted(total: Any, op: str, target: Any, value: float) -> tuple[ColumnElement[bool], bool]:
    """HAVING test and whether the set is complemented: when a customer with no rows at all satisfies
    `op value` (e.g. "< 3 times"), the set is everyone minus those whose total fails it."""
    if holds(op, 0, value):
        return compare(total, OPPOSITE[op], target), True
    return compare(total, op, target), False


def event_name_test(name: str) -> ColumnElement[bool]:
    """Raw events matching a rollup name: a track event's name, or `$page`, `$identify`, … by type."""
    e = Event.__table__.c
    if name.startswith("$"):
        return e.type == name[1:]
    return and_(e.type == "track", e.name == name)


def raw_event_filters(scope: Scope, node: EventCountCondition) -> list[ColumnElement[bool]]:
    e = Event.__table__.c
    where = [e.source_id != scope.system_source, event_name_test(node.event)]
    if node.window is not None:
        start, end = windows.window_instants(node.window, scope.today)
        where.append(e.timestamp >= start)
        if end is not None:
            where.append(e.timestamp < end)
    for f in node.where:
        ref = JsonRef(e.properties, tuple(f.property.split(".")))
        where.append(scope.sql.test(ref, f.op, f.value))
    return where


def rollup_filters(scope: Scope, node: EventCountCondition) -> list[ColumnElement[bool]]:
    r = DailyEventCount.__table__.c
    where = [r.event == node.event]
    if node.window is not None:
        first, last = windows.window_days(node.window, scope.today)
        where.append(r.day >= first)
        if last is not None:
            where.append(r.day <= last)
    return where


def event_count(scope: Scope, node: EventCountCondition) -> NodeSet:
    if node.where:
        e = Event.__table__.c
        having, negated = _counted(func.count(), node.op, node.value, node.value)
        query = select(e.customer_id.label("customer_id")).where(*raw_event_filters(scope, node))
        query = scope.restricted(query, e.customer_id).group_by(e.customer_id).having(having)
        return NodeSet(query, negated)
    r = DailyEventCount.__table__.c
    having, negated = _counted(func.sum(r.count), node.op, node.value, node.value)
    query = select(r.customer_id.label("customer_id")).where(*rollup_filters(scope, node))
    return NodeSet(scope.restricted(query, r.customer_id).group_by(r.customer_id).having(having), negated)


def completed() -> ColumnElement[bool]:
    o = Order.__table__.c
    return and_(o.completed_at.is_not(None), o.status != "cancelled")


def counted() -> ColumnElement[bool]:
    return and_(completed(), Order.__table__.c.status != "refunded")


def order_window(scope: Scope, node: OrderCondition | BoughtCondition) -> list[ColumnElement[bool]]:
    if node.window is None:
        return []
    o = Order.__table__.c
    start, end = windows.window_instants(node.window, scope.today)
    return [o.completed_at >= start] + ([] if end is None else [o.completed_at < end])


def money(scope: Scope, value: Any) -> Any:
    """Major units (yuan) → minor units (fen) of the default currency, as an exact number."""
    return literal(Decimal(value).scaleb(scope.money_exponent), Numeric)


def _order_numbers(scope: Scope, node: OrderCondition) -> NodeSet:
    value = node.value
    assert isinstance(value, Decimal)
    target = literal(int(value)) if node.metric == "count" else money(scope, value)
    if node.window is None:
        s = CustomerStats.__table__.c
        if node.metric == "aov":
            test = and_(s.orders_count > 0, compare(s.total_spent_minor, node.op, target * s.orders_count))
            return NodeSet(
                scope.restricted(select(s.customer_id.label("customer_id")).where(test), s.customer_id)
            )
        column = s.orders_count if node.metric == "count" else s.total_spent_minor
        test, negated = _counted(column, node.op, target, float(value))
        query = select(s.customer_id.label("customer_id")).where(test)
        return NodeSet(scope.restricted(query, s.customer_id), negated)
    o = Order.__table__.c
    n = func.sum(case((counted(), 1), else_=0))
    spend = func.sum(o.total_minor - o.refunded_minor)
    query = select(o.customer_id.label("customer_id")).where(completed(), *order_window(scope, node))
    query = scope.restricted(query, o.customer_id).group_by(o.customer_id)
    if node.metric == "aov":
        return NodeSet(query.having(and_(n > 0, compare(spend, node.op, target * n))))
    having, negated = _counted(n if node.metric == "count" else spend, node.op, target, float(value))
    return NodeSet(query.having(having), negated)


def _order_dates(scope: Scope, node: OrderCondition) -> NodeSet:
    s = CustomerStats.__table__.c
    column = s.last_order_at if node.metric == "last_order_at" else s.first_order_at
    negated = node.op == "not_exists"
    test: ColumnElement[bool]
    if node.op in ("exists", "not_exists"):
        test = column.is_not(None)
    elif node.op in ("within_last_days", "before_days_ago"):
        since = windows.midnight(scope.today - timedelta(days=node.days - 1))
        test = column >= since if node.op == "within_last_days" else column < since
    else:
        day = node.value
        assert day is not None and not isinstance(day, Decimal)
        test = column < windows.midnight(day) if node.op == "before" else column >= windows.midnight(day)
    query = select(s.customer_id.label("customer_id")).where(test)
    return NodeSet(scope.restricted(query, s.customer_id), negated)


def order(scope: Scope, node: OrderCondition) -> NodeSet:
    if node.metric in ("count", "spend", "aov"):
        return _order_numbers(scope, node)
    return _order_dates(scope, node)


def bought_filters(scope: Scope, node: BoughtCondition) -> list[ColumnElement[bool]]:
    line = OrderLine.__table__.c
    test: ColumnElement[bool]
    if node.product_id is not None:
        test = line.product_id == node.product_id
    elif node.sku is not None:
        test = line.sku == node.sku
    else:
        test = line.category == node.category
    return [test, counted(), *order_window(scope, node)]


def bought(scope: Scope, node: BoughtCondition) -> NodeSet:
    line = OrderLine.__table__.c
    query = (
        select(line.customer_id.label("customer_id"))
        .join(Order, Order.id == line.order_pk)
        .where(*bought_filters(scope, node))
    )
    return NodeSet(scope.restricted(query, line.customer_id))
