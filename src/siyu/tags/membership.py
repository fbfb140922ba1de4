"""Who carries a tag and what a customer carries: members of a tag (paged by customer id), a customer's
current tags (as the profile shows them) and their tag history (paged, newest first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import NotFound
from siyu.customers.merges import canonical_id
from siyu.customers.tables import Customer
from siyu.tags.catalog import get_tag
from siyu.tags.tables import CustomerTag, Tag, TagChange, TagGroup


def customers_of(
    session: Session, tag_id: int, *, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Members of the tag in customer-id order after the cursor, and the next cursor."""
    get_tag(session, tag_id)
    query = select(CustomerTag.customer_id, CustomerTag.added_at, CustomerTag.added_by).where(
        CustomerTag.tag_id == tag_id
    )
    if after is not None:
        query = query.where(CustomerTag.customer_id > after)
    rows = list(session.execute(query.order_by(CustomerTag.customer_id).limit(limit + 1)))
    items = [{"customer_id": c, "added_at": at, "added_by": by} for c, at, by in rows[:limit]]
    next_cursor = rows[limit - 1][0] if len(rows) > limit else None
    return items, next_cursor


def customer_or_404(session: Session, customer_id: int) -> int:
    """The customer holding the data now (a merged id leads to its survivor)."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    return canonical_id(session, customer_id)


def tags_of(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """The tags a customer carries now: `{id, name, group, category, added_at, added_by}`."""
    query = (
        select(Tag.id, Tag.name, TagGroup.name, TagGroup.category, CustomerTag.added_at, CustomerTag.added_by)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(CustomerTag.customer_id == customer_id)
        .order_by(TagGroup.id, Tag.id)
    )
    keys = ("id", "name", "group", "category", "added_at", "added_by")
    return [dict(zip(keys, row, strict=True)) for row in session.execute(query)]


def history_of(
    session: Session, customer_id: int, *, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Every add and remove for the customer, newest first, and the cursor for the next page."""
    query = (
        select(TagChange, Tag.name, TagGroup.name)
        .join(Tag, Tag.id == TagChange.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(TagChange.customer_id == customer_id)
    )
    if before is not None:
        query = query.where(TagChange.id < before)
    rows = [(c, t, g) for c, t, g in session.execute(query.order_by(TagChange.id.desc()).limit(limit + 1))]
    items = [
        {
            "id": change.id,
            "tag_id": change.tag_id,
            "tag": tag,
            "group": group,
            "action": change.action,
            "at": change.at,
            "actor": change.actor,
            "reason": change.reason,
        }
        for change, tag, group in rows[:limit]
    ]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return items, next_cursor
