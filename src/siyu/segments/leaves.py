"""Profile conditions as sets of customer ids: traits (values and dates), identities, tags, RFM,
lifecycle, owner, live code, consent and other segments. Activity conditions live in `activity.py`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select

from siyu.consent.tables import Consent
from siyu.customers.tables import Identity, Trait
from siyu.lifecycle.tables import LifecycleState
from siyu.rfm.tables import RfmScore
from siyu.segments import windows
from siyu.segments.compiler import NodeSet, Scope
from siyu.segments.conditions import (
    ConsentCondition,
    IdentityCondition,
    LifecycleCondition,
    LiveCodeCondition,
    OwnerCondition,
    RfmCondition,
    SegmentCondition,
    TagCondition,
    TraitCondition,
)
from siyu.segments.dialect import JsonRef, compare
from siyu.segments.tables import SegmentMember
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags.tables import CustomerTag

NEGATIVE = {"ne": "eq", "not_in": "in", "not_exists": "exists"}
LIVE_CODE_TRAIT = "live_code"


def trait_value(scope: Scope) -> JsonRef:
    return JsonRef(Trait.__table__.c.value)


def trait_present(scope: Scope) -> ColumnElement[bool]:
    t = Trait.__table__.c
    return or_(scope.sql.present(JsonRef(t.value)), t.value_enc.is_not(None))


def trait_test(scope: Scope, op: str, value: Any) -> ColumnElement[bool]:
    """The row-level test of a positive trait operator (never `ne`, `not_in`, `not_exists`)."""
    ref, sql = trait_value(scope), scope.sql
    if op == "exists":
        return trait_present(scope)
    if op == "anniversary_within_days":
        days = sorted(windows.anniversary_days(scope.today, int(value)))
        return func.substr(sql.date_text(ref), 6, 5).in_(days)
    if op in ("within_last_days", "before_days_ago", "within_next_days"):
        low, high = windows.date_bounds(op, int(value), scope.today)
        text = sql.date_text(ref)
        tests: list[ColumnElement[bool]] = [text.is_not(None)]
        if low is not None:
            tests.append(text >= low.isoformat())
        if high is not None:
            tests.append(text <= high.isoformat())
        return and_(*tests)
    return sql.test(ref, op, value)


def trait_set(scope: Scope, name: str, op: str, value: Any) -> NodeSet:
    t = Trait.__table__.c
    positive = NEGATIVE.get(op, op)
    query = select(t.customer_id.label("customer_id")).where(
        t.name == name, trait_test(scope, positive, value)
    )
    return NodeSet(scope.restricted(query, t.customer_id), negated=op in NEGATIVE)


def _ids(scope: Scope, column: Any, *where: Any) -> Select[Any]:
    return scope.restricted(select(column.label("customer_id")).where(*where), column)


def _trait(scope: Scope, node: TraitCondition) -> NodeSet:
    return trait_set(scope, node.name, node.op, node.value)


def _live_code(scope: Scope, node: LiveCodeCondition) -> NodeSet:
    return trait_set(scope, LIVE_CODE_TRAIT, "in", list(node.codes))


def _identity(scope: Scope, node: IdentityCondition) -> NodeSet:
    i = Identity.__table__.c
    return NodeSet(_ids(scope, i.customer_id, i.type == node.identity_type), negated=not node.present)


def _tag(scope: Scope, node: TagCondition) -> NodeSet:
    t = CustomerTag.__table__.c
    return NodeSet(_ids(scope, t.customer_id, t.tag_id == node.tag_id), negated=not node.has)


def _rfm(scope: Scope, node: RfmCondition) -> NodeSet:
    r = RfmScore.__table__.c
    if node.tiers is not None:
        return NodeSet(_ids(scope, r.customer_id, r.tier.in_(list(node.tiers))))
    assert node.score and node.op and node.value is not None
    return NodeSet(_ids(scope, r.customer_id, compare(r[node.score], node.op, literal(node.value))))


def _lifecycle(scope: Scope, node: LifecycleCondition) -> NodeSet:
    s = LifecycleState.__table__.c
    return NodeSet(_ids(scope, s.customer_id, s.stage.in_(list(node.stages))))


def _owner(scope: Scope, node: OwnerCondition) -> NodeSet:
    o, s = CustomerOwner.__table__.c, Staff.__table__.c
    if node.has_owner is not None:
        return NodeSet(_ids(scope, o.customer_id), negated=not node.has_owner)
    test = s.userid.in_(list(node.staff)) if node.staff else s.department.in_(list(node.departments or ()))
    query = select(o.customer_id.label("customer_id")).join(Staff, Staff.id == o.staff_id).where(test)
    return NodeSet(scope.restricted(query, o.customer_id))


def _consent(scope: Scope, node: ConsentCondition) -> NodeSet:
    c = Consent.__table__.c
    where = [c.channel == node.channel, c.purpose == node.purpose]
    if node.status == "unknown":
        return NodeSet(_ids(scope, c.customer_id, *where), negated=True)
    return NodeSet(_ids(scope, c.customer_id, *where, c.status == node.status))


def _segment(scope: Scope, node: SegmentCondition) -> NodeSet:
    m = SegmentMember.__table__.c
    return NodeSet(_ids(scope, m.customer_id, m.segment_id == node.segment_id), negated=not node.member)


def compile_leaf(scope: Scope, node: Any) -> NodeSet:
    from siyu.segments import activity

    builders: dict[str, Any] = {
        "trait": _trait,
        "live_code": _live_code,
        "identity": _identity,
        "tag": _tag,
        "rfm": _rfm,
        "lifecycle": _lifecycle,
        "owner": _owner,
        "consent": _consent,
        "segment": _segment,
        "event_count": activity.event_count,
        "order": activity.order,
        "bought": activity.bought,
    }
    build = builders.get(node.type)
    if build is None:
        raise ValueError(f"no compiler for condition type {node.type!r}")
    result: NodeSet = build(scope, node)
    return result
