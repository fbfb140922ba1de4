"""Merging two customers into one, and undoing it exactly.

A merge moves every identity, event, order, order line, trait-history and tag-history row of the merged
customer to the survivor, gives the survivor the union of both customers' tags, records what it moved
(who, when, why), and re-materialises traits, stats and rollups. Undo moves exactly those rows back,
gives the merged customer its tags back, and re-materialises both sides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.commerce.tables import Order, OrderLine
from siyu.core.clock import now
from siyu.core.errors import Conflict, NotFound
from siyu.customers import stats, traits
from siyu.customers.tables import Customer, Identity, Merge, TraitChange
from siyu.events.tables import Event
from siyu.segments.queue import enqueue_now
from siyu.tags import merging as tag_merging
from siyu.tags.tables import TagChange

MOVABLE: dict[str, Any] = {
    "identities": Identity,
    "events": Event,
    "orders": Order,
    "order_lines": OrderLine,
    "trait_history": TraitChange,
    "tag_history": TagChange,
}


def canonical_id(session: Session, customer_id: int) -> int:
    """Follow `merged_into_id` to the customer that holds the data now."""
    seen = set()
    current = customer_id
    while True:
        target = session.scalar(select(Customer.merged_into_id).where(Customer.id == current))
        if target is None or current in seen:
            return current
        seen.add(current)
        current = target


def merge(session: Session, survivor_id: int, merged_id: int, *, reason: str, actor: str) -> Merge:
    """Fold `merged_id` into `survivor_id`; returns the merge record (flushes, does not commit)."""
    if survivor_id == merged_id:
        raise Conflict("a customer cannot be merged into itself", field="merged_id")
    for cid in (survivor_id, merged_id):
        row = session.get(Customer, cid)
        if row is None:
            raise NotFound(f"customer {cid} not found", field="customer_id")
        if row.merged_into_id is not None:
            raise Conflict(
                f"customer {cid} was already merged into {row.merged_into_id}", field="customer_id"
            )
    moved: dict[str, list[int]] = {}
    for name, model in MOVABLE.items():
        ids = list(session.scalars(select(model.id).where(model.customer_id == merged_id).order_by(model.id)))
        moved[name] = ids
        if ids:
            session.execute(
                update(model).where(model.customer_id == merged_id).values(customer_id=survivor_id)
            )
    moved.update(tag_merging.fold(session, survivor_id, merged_id))  # current tags: the union
    session.execute(update(Customer).where(Customer.id == merged_id).values(merged_into_id=survivor_id))
    record = Merge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        reason=reason[:255],
        actor=actor[:100],
        created_at=now(),
        moved=moved,
    )
    session.add(record)
    session.flush()
    _rematerialise(session, [survivor_id, merged_id])
    return record


def undo(session: Session, merge_id: int, *, actor: str) -> Merge:
    """Move back exactly what merge `merge_id` moved, and make the merged customer independent again."""
    record = session.get(Merge, merge_id)
    if record is None:
        raise NotFound(f"merge {merge_id} not found", field="merge_id")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone", field="merge_id")
    holders: set[int] = {record.survivor_id}
    for name, ids in record.moved.items():
        if name in tag_merging.KEYS:
            continue
        model = MOVABLE[name]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            holders.update(session.scalars(select(model.customer_id).where(model.id.in_(part)).distinct()))
            session.execute(update(model).where(model.id.in_(part)).values(customer_id=record.merged_id))
    tag_merging.unfold(session, record.survivor_id, record.merged_id, record.moved)
    session.execute(update(Customer).where(Customer.id == record.merged_id).values(merged_into_id=None))
    record.undone_at = now()
    record.undone_by = actor[:100]
    session.flush()
    _rematerialise(session, sorted(holders | {record.merged_id}))
    return record


def _rematerialise(session: Session, customer_ids: list[int]) -> None:
    for cid in customer_ids:
        traits.rebuild(session, cid)
        stats.rebuild(session, cid)
    enqueue_now(session, customer_ids, now(), "merge")  # segments and rule tags follow the moved data


def lineage(session: Session, customer_id: int) -> list[Merge]:
    """Merges this customer took part in, newest first."""
    query = (
        select(Merge)
        .where((Merge.survivor_id == customer_id) | (Merge.merged_id == customer_id))
        .order_by(Merge.id.desc())
    )
    return list(session.scalars(query))
