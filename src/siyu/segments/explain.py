"""Why a customer is (not) in a segment: every node of the definition evaluated on its own for that one
customer (the same compiled query, restricted to them), with the values the leaves saw — the event count,
the trait value, the spend. Personal-data traits show only whether they are present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.commerce.tables import Order, OrderLine
from siyu.consent.tables import Consent
from siyu.core.settings import get_settings
from siyu.customers.tables import CustomerStats, DailyEventCount, Identity, Trait
from siyu.events.tables import Event
from siyu.lifecycle.tables import LifecycleState
from siyu.rfm.tables import RfmScore
from siyu.segments import activity, windows
from siyu.segments.compiler import Scope, members, scope_for
from siyu.segments.conditions import children
from siyu.segments.schemas import CONDITION_TYPES, dump_condition
from siyu.segments.tables import SegmentMember
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags.tables import CustomerTag


def _window(scope: Scope, node: Any) -> dict[str, Any]:
    window = getattr(node, "window", None)
    if window is None:
        return {}
    first, last = windows.window_days(window, scope.today)
    return {"window": {"from": first.isoformat(), "to": (last or scope.today).isoformat()}}


def _money(minor: Any) -> str | None:
    return None if minor is None else str(from_minor(int(minor), get_settings().default_currency))


def _trait(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    name = getattr(node, "name", "live_code")
    row = session.execute(
        select(Trait.value, Trait.value_enc).where(Trait.customer_id == cid, Trait.name == name)
    ).first()
    if row is None:
        return {"trait": name, "present": False}
    if row.value_enc is not None:
        return {"trait": name, "present": True, "value": "***"}
    return {
        "trait": name,
        "present": row.value is not None,
        "value": row.value,
        "today": scope.today.isoformat(),
    }


def _event_count(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    if node.where:
        e = Event.__table__.c
        query = select(func.count()).where(e.customer_id == cid, *activity.raw_event_filters(scope, node))
        source = "events"
    else:
        r = DailyEventCount.__table__.c
        query = select(func.coalesce(func.sum(r.count), 0)).where(
            r.customer_id == cid, *activity.rollup_filters(scope, node)
        )
        source = "daily rollups"
    return {"count": int(session.execute(query).scalar_one()), "counted_from": source, **_window(scope, node)}


def _order(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    if node.metric in ("last_order_at", "first_order_at"):
        stats = session.get(CustomerStats, cid)
        return {
            node.metric: None if stats is None else getattr(stats, node.metric),
            "today": scope.today.isoformat(),
        }
    if node.window is None:
        stats = session.get(CustomerStats, cid)
        count, spend = (0, 0) if stats is None else (stats.orders_count, stats.total_spent_minor)
    else:
        o = Order.__table__.c
        query = select(
            func.coalesce(func.sum(case((activity.counted(), 1), else_=0)), 0),
            func.coalesce(func.sum(o.total_minor - o.refunded_minor), 0),
        ).where(o.customer_id == cid, activity.completed(), *activity.order_window(scope, node))
        count, spend = session.execute(query).one()
    aov = int(spend) // int(count) if count else None
    values = {"count": int(count), "spend": _money(spend), "aov": _money(aov)}
    return {**values, **_window(scope, node)}


def _bought(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    line = OrderLine.__table__.c
    query = (
        select(func.count())
        .select_from(OrderLine)
        .join(Order, Order.id == line.order_pk)
        .where(line.customer_id == cid, *activity.bought_filters(scope, node))
    )
    return {"order_lines": int(session.execute(query).scalar_one()), **_window(scope, node)}


def _profile(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    kind = node.type
    if kind == "identity":
        n = session.scalar(
            select(func.count()).where(Identity.customer_id == cid, Identity.type == node.identity_type)
        )
        return {"identities": int(n or 0)}
    if kind == "tag":
        return {"has": session.get(CustomerTag, (cid, node.tag_id)) is not None}
    if kind == "rfm":
        score = session.get(RfmScore, cid)
        return {} if score is None else {"tier": score.tier, "r": score.r, "f": score.f, "m": score.m}
    if kind == "lifecycle":
        state = session.get(LifecycleState, cid)
        return {"stage": None if state is None else state.stage}
    if kind == "owner":
        row = session.execute(
            select(Staff.userid, Staff.department)
            .join(CustomerOwner, CustomerOwner.staff_id == Staff.id)
            .where(CustomerOwner.customer_id == cid)
        ).first()
        return {"staff": None, "department": None} if row is None else {"staff": row[0], "department": row[1]}
    if kind == "consent":
        consent = session.get(Consent, (cid, node.channel, node.purpose))
        return {"status": "unknown" if consent is None else consent.status}
    if kind == "segment":
        return {"member": session.get(SegmentMember, (node.segment_id, cid)) is not None}
    return {}


OBSERVERS: dict[str, Any] = {
    "trait": _trait,
    "live_code": _trait,
    "event_count": _event_count,
    "order": _order,
    "bought": _bought,
}


def _explain(session: Session, scope: Scope, node: Any, cid: int) -> dict[str, Any]:
    zh, en, _what = CONDITION_TYPES[node.type]
    result = cid in set(session.scalars(members(scope, node)))
    out: dict[str, Any] = {"type": node.type, "label": f"{zh} / {en}", "result": result}
    kids = children(node)
    if kids:
        out["children"] = [_explain(session, scope, child, cid) for child in kids]
    else:
        out["condition"] = dump_condition(node)
        out["seen"] = OBSERVERS.get(node.type, _profile)(session, scope, node, cid)
    return out


def explain(session: Session, root: Any, customer_id: int, now: datetime) -> dict[str, Any]:
    """The tree with `result` (true/false) and, at each leaf, what was `seen` for this customer."""
    scope = scope_for(session, now, [customer_id])
    return _explain(session, scope, root, customer_id)
