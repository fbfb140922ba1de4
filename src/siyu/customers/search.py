"""Finding customers by identity (through the blind index for personal data) or trait, paged by id."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, cast, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault
from siyu.customers.identity_types import lookup_key
from siyu.customers.tables import Customer, Identity, Trait


def parse_pair(text: str, field: str) -> tuple[str, str]:
    kind, sep, value = text.partition(":")
    if not sep or not kind.strip() or not value.strip():
        raise ValidationFailed(f"{field} must look like TYPE:VALUE", field=field)
    return kind.strip(), value.strip()


def by_identity(session: Session, vault: Vault, identity: str) -> list[int]:
    kind, value = parse_pair(identity, "identity")
    try:
        key = lookup_key(vault, kind, value)
    except ValidationFailed as exc:
        raise ValidationFailed(f"identity: {exc.message}", field="identity") from exc
    return list(
        session.scalars(
            select(Identity.customer_id).where(Identity.lookup == key[1], Identity.type == key[0])
        )
    )


def _json_candidates(value: str) -> list[Any]:
    candidates: list[Any] = [value]
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return candidates
    if parsed != value:
        candidates.append(parsed)
    return candidates


def _trait_equals(session: Session, value: str) -> ColumnElement[bool]:
    """JSON equality on both databases: the text as a string, or as the JSON scalar it spells."""
    encoded = [orjson.dumps(v).decode() for v in _json_candidates(value)]
    if session.get_bind().dialect.name == "postgresql":
        return or_(*(Trait.value == cast(literal(e), JSONB) for e in encoded))
    return or_(*(cast(Trait.value, Text) == e for e in encoded))


def page(
    session: Session,
    vault: Vault,
    *,
    identity: str | None,
    trait: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[int], int | None]:
    """Customer ids (not merged away), ascending, after the cursor; and the next cursor."""
    query = select(Customer.id).where(Customer.merged_into_id.is_(None))
    if identity:
        ids = by_identity(session, vault, identity)
        query = query.where(Customer.id.in_(ids))
    if trait:
        name, value = parse_pair(trait, "trait")
        if vault.is_pii_name(name):
            raise ValidationFailed(
                f"trait {name!r} is personal data: search it as an identity (identity=phone:…)", field="trait"
            )
        matches = select(Trait.customer_id).where(Trait.name == name, _trait_equals(session, value))
        query = query.where(Customer.id.in_(matches))
    if after is not None:
        query = query.where(Customer.id > after)
    ids = list(session.scalars(query.order_by(Customer.id).limit(limit + 1)))
    next_cursor = ids[limit - 1] if len(ids) > limit else None
    return ids[:limit], next_cursor
