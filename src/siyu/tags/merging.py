"""Tags across a customer merge: the survivor ends up with the union of both customers' tags (in an
exclusive group the survivor's own tag wins), and undo gives the merged customer exactly its tags back.

`fold` returns what it did as `{"customer_tags": [tag ids moved], "customer_tags_dropped": [tag ids the
survivor already had]}`, the shape of `merges.moved`; `unfold` reverses it. History rows are not written
here: `tag_history` rows move with the merge like events do (they have an id, so undo is exact).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.database import insert_for
from siyu.tags.tables import CustomerTag, Tag, TagChange, TagGroup

MOVED = "customer_tags"
DROPPED = "customer_tags_dropped"
KEYS = (MOVED, DROPPED)


def _carried(session: Session, customer_id: int) -> list[tuple[int, int, bool]]:
    """(tag id, group id, group exclusive) for each tag the customer carries."""
    query = (
        select(CustomerTag.tag_id, Tag.group_id, TagGroup.exclusive)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(CustomerTag.customer_id == customer_id)
        .order_by(CustomerTag.tag_id)
    )
    return [(int(t), int(g), bool(x)) for t, g, x in session.execute(query)]


def fold(session: Session, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    """Give the survivor the merged customer's tags; returns what moved and what was dropped."""
    kept = _carried(session, survivor_id)
    survivor_tags = {t for t, _g, _x in kept}
    survivor_exclusive = {g for _t, g, x in kept if x}
    moved: list[int] = []
    dropped: list[int] = []
    for tag_id, group_id, exclusive in _carried(session, merged_id):
        if tag_id in survivor_tags or (exclusive and group_id in survivor_exclusive):
            dropped.append(tag_id)
        else:
            moved.append(tag_id)
            if exclusive:
                survivor_exclusive.add(group_id)
    if dropped:
        session.execute(
            delete(CustomerTag).where(CustomerTag.customer_id == merged_id, CustomerTag.tag_id.in_(dropped))
        )
    if moved:
        session.execute(
            update(CustomerTag)
            .where(CustomerTag.customer_id == merged_id, CustomerTag.tag_id.in_(moved))
            .values(customer_id=survivor_id)
        )
    session.flush()
    return {MOVED: moved, DROPPED: dropped}


def unfold(session: Session, survivor_id: int, merged_id: int, moved: dict[str, Any]) -> None:
    """Undo `fold`: moved tags go back (those the survivor still carries), dropped ones are restored
    with the time and actor of the merged customer's last `added` history row for them."""
    back = [int(t) for t in moved.get(MOVED, [])]
    if back:
        session.execute(
            update(CustomerTag)
            .where(CustomerTag.customer_id == survivor_id, CustomerTag.tag_id.in_(back))
            .values(customer_id=merged_id)
        )
    restored = [int(t) for t in moved.get(DROPPED, [])]
    if restored:
        last_added: dict[int, tuple[Any, str]] = {}
        query = (
            select(TagChange.tag_id, TagChange.at, TagChange.actor)
            .where(
                TagChange.customer_id == merged_id,
                TagChange.tag_id.in_(restored),
                TagChange.action == "added",
            )
            .order_by(TagChange.id)
        )
        for tag_id, at, actor in session.execute(query):
            last_added[int(tag_id)] = (at, actor)
        rows = [
            {
                "customer_id": merged_id,
                "tag_id": t,
                "added_at": last_added.get(t, (now(), ""))[0],
                "added_by": last_added.get(t, (None, "merge-undo"))[1],
            }
            for t in restored
        ]
        stmt = insert_for(session.get_bind().dialect.name, CustomerTag.__table__).values(rows)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id", "tag_id"]))
    session.flush()
