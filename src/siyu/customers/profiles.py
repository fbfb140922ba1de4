"""The unified profile as the API shows it: identities, traits, stats, RFM, lifecycle stage, merge lineage,
masked by role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.core.errors import NotFound
from siyu.core.pii import Vault, mask
from siyu.customers import merges, traits
from siyu.customers.identity_types import TRAIT_IDENTITIES, canonical_trait, rule_for
from siyu.customers.tables import Customer, CustomerStats, Identity
from siyu.lifecycle.view import stage_of
from siyu.predict.view import predictions_of
from siyu.rfm.view import rfm_of
from siyu.tags.membership import tags_of


def shown(vault: Vault, kind: str, value: Any, sees_pii: bool) -> Any:
    """A personal value in full for roles with `pii`, masked for the rest."""
    if sees_pii:
        return value
    if isinstance(value, str):
        return mask(kind, value)
    return "***"


def _mask_kind(name: str) -> str:
    return TRAIT_IDENTITIES.get(canonical_trait(name), "text")


def identities(session: Session, vault: Vault, customer_id: int, sees_pii: bool) -> list[dict[str, Any]]:
    out = []
    for row in session.scalars(
        select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)
    ):
        if row.value_enc is not None:
            value = shown(vault, row.type, vault.decrypt(row.value_enc).decode(), sees_pii)
        else:
            value = row.value
        out.append(
            {
                "type": row.type,
                "value": value,
                "personal": rule_for(row.type).pii,
                "first_seen_at": row.first_seen_at,
            }
        )
    return out


def stats_of(session: Session, customer_id: int) -> dict[str, Any]:
    row = session.get(CustomerStats, customer_id)
    if row is None:
        row = CustomerStats(
            customer_id=customer_id, events_count=0, orders_count=0, total_spent_minor=0, refunded_minor=0
        )
    currency = row.currency or "CNY"
    aov_minor = row.total_spent_minor // row.orders_count if row.orders_count else None
    return {
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
        "events_count": row.events_count or 0,
        "orders_count": row.orders_count or 0,
        "total_spent_minor": row.total_spent_minor or 0,
        "total_spent": str(from_minor(row.total_spent_minor or 0, currency)),
        "refunded_minor": row.refunded_minor or 0,
        "average_order_value_minor": aov_minor,
        "average_order_value": None if aov_minor is None else str(from_minor(aov_minor, currency)),
        "currency": currency,
        "first_order_at": row.first_order_at,
        "last_order_at": row.last_order_at,
    }


def profile(session: Session, vault: Vault, customer_id: int, *, sees_pii: bool) -> dict[str, Any]:
    row = session.get(Customer, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    canonical = merges.canonical_id(session, customer_id)
    if canonical != customer_id:
        row = session.get(Customer, canonical)
        assert row is not None
    current = traits.current(session, vault, canonical)
    return {
        "id": canonical,
        "requested_id": customer_id,
        "merged": canonical != customer_id,
        "created_at": row.created_at,
        "identities": identities(session, vault, canonical, sees_pii),
        "traits": {
            name: shown(vault, _mask_kind(name), value, sees_pii) if personal else value
            for name, (value, personal) in current.items()
        },
        "stats": stats_of(session, canonical),
        "rfm": rfm_of(session, canonical),
        "lifecycle_stage": stage_of(session, canonical),
        "tags": tags_of(session, canonical),
        "predictions": predictions_of(session, canonical),
        "merges": [
            {
                "id": m.id,
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "reason": m.reason,
                "actor": m.actor,
                "created_at": m.created_at,
                "undone_at": m.undone_at,
                "undone_by": m.undone_by,
            }
            for m in merges.lineage(session, canonical)
        ],
    }
