"""The one compiler: a condition tree → a SQLAlchemy Core select of customer ids, for full rebuilds (every
customer) and, restricted to a list of ids pushed into every subquery, for incremental evaluation.

Each leaf compiles to a set of customer ids, possibly complemented ("has no tag X" = everyone minus the
tag's holders), and `and`/`or`/`not` become INTERSECT / UNION / EXCEPT over those sets, so a full rebuild
is a handful of set operations over index ranges: O(customers), never a loop in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, except_, func, intersect, select, union
from sqlalchemy.orm import Session

from siyu.commerce.money import exponent
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer
from siyu.events.system import system_source_id
from siyu.segments import windows
from siyu.segments.conditions import AndCondition, NotCondition, OrCondition
from siyu.segments.dialect import Sql


@dataclass(frozen=True)
class Scope:
    """What a compilation depends on besides the tree: dialect, `now`, and the customers in scope."""

    dialect: str
    now: datetime
    ids: tuple[int, ...] | None = None
    system_source: int = 0
    money_exponent: int = 2
    sql: Sql = field(init=False, repr=False, compare=False)
    today: date = field(init=False, compare=False)
    _ids_param: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", Sql(self.dialect))
        object.__setattr__(self, "today", windows.today(self.now))
        ids = list(self.ids or ())
        param: Any = bindparam("scope_ids", ids, expanding=True, literal_execute=True)
        object.__setattr__(self, "_ids_param", param)

    def only(self, column: Any) -> ColumnElement[bool] | None:
        """`column IN (ids)` when restricted (integers rendered inline: no parameter limits)."""
        if self.ids is None:
            return None
        test: ColumnElement[bool] = column.in_(self._ids_param)
        return test

    def restricted(self, query: Select[Any], column: Any) -> Select[Any]:
        where = self.only(column)
        return query if where is None else query.where(where)

    def with_ids(self, ids: Sequence[int] | None) -> Scope:
        return Scope(
            self.dialect,
            self.now,
            None if ids is None else tuple(ids),
            self.system_source,
            self.money_exponent,
        )


def scope_for(session: Session, now: datetime, ids: Sequence[int] | None = None) -> Scope:
    settings = get_settings()
    return Scope(
        dialect=session.get_bind().dialect.name,
        now=now,
        ids=None if ids is None else tuple(sorted(set(ids))),
        system_source=system_source_id(session),
        money_exponent=exponent(settings.default_currency),
    )


@dataclass(frozen=True)
class NodeSet:
    """A set of customer ids: `query` (one column, `customer_id`), or everyone but those if `negated`."""

    query: Select[Any]
    negated: bool = False

    def flipped(self) -> NodeSet:
        return NodeSet(self.query, not self.negated)


def everyone(scope: Scope) -> Select[Any]:
    """Customers that are not merged into another (the universe of every segment), in scope."""
    c = Customer.__table__.c
    query = select(c.id.label("customer_id")).where(c.merged_into_id.is_(None))
    return scope.restricted(query, c.id)


def _flat(compound: Any) -> Select[Any]:
    """A compound select as a plain one (SQLite does not nest compound selects in parentheses)."""
    sub = compound.subquery()
    return select(sub.c.customer_id)


def _union(queries: list[Select[Any]]) -> Select[Any]:
    return queries[0] if len(queries) == 1 else _flat(union(*queries))


def _intersect(queries: list[Select[Any]]) -> Select[Any]:
    return queries[0] if len(queries) == 1 else _flat(intersect(*queries))


def _and(parts: list[NodeSet]) -> NodeSet:
    plain = [p.query for p in parts if not p.negated]
    minus = [p.query for p in parts if p.negated]
    if not plain:
        return NodeSet(_union(minus), negated=True)  # ⋂(U − n) = U − ⋃n
    base = _intersect(plain)
    return NodeSet(_flat(except_(base, _union(minus))) if minus else base)


def compile_node(scope: Scope, node: Any) -> NodeSet:
    if isinstance(node, AndCondition):
        return _and([compile_node(scope, child) for child in node.children])
    if isinstance(node, OrCondition):  # ⋃ = U − ⋂(U − x)
        return _and([compile_node(scope, child).flipped() for child in node.children]).flipped()
    if isinstance(node, NotCondition):
        return compile_node(scope, node.child).flipped()
    from siyu.segments.leaves import compile_leaf

    return compile_leaf(scope, node)


def merged_away(scope: Scope) -> Select[Any]:
    """Customers merged into another (few; read through the index on merged_into_id)."""
    c = Customer.__table__.c
    query = select(c.id.label("customer_id")).where(c.merged_into_id.is_not(None))
    return scope.restricted(query, c.id)


def members(scope: Scope, node: Any) -> Select[Any]:
    """Customer ids (not merged, in scope) for which `node` holds: one column, `customer_id`. Leaf sets
    hold only existing customers (foreign keys), so a plain set needs only the merged ones taken out."""
    compiled = compile_node(scope, node)
    if compiled.negated:
        return _flat(except_(everyone(scope), compiled.query))
    return _flat(except_(compiled.query, merged_away(scope)))


def count(scope: Scope, node: Any) -> Select[Any]:
    return select(func.count()).select_from(members(scope, node).subquery())
