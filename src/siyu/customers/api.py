"""Read API for customers (`/api/v1/customers…`) plus merge and undo, behind Bearer tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from siyu.core.errors import NotFound
from siyu.core.pii import get_vault
from siyu.customers import merges, profiles, search
from siyu.customers.tables import Customer
from siyu.events import timeline
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["customers"])

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
MAX_ID = 2**63 - 1
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID, description="Customer id")]


class MergeCreate(BaseModel):
    merged_id: int = Field(ge=1, le=2**63 - 1, description="Customer folded into the one in the path")
    reason: str = Field(min_length=1, max_length=255)


class UndoCreate(BaseModel):
    reason: str = Field("", max_length=255)


@router.get("/customers", summary="Search customers by identity or trait (paged)")
def list_customers(
    session: SessionDep,
    principal: PrincipalDep,
    identity: Annotated[str | None, Query(description="TYPE:VALUE, e.g. phone:13912345678")] = None,
    trait: Annotated[str | None, Query(description="NAME:VALUE, e.g. plan:gold")] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    principal.require("read")
    vault = get_vault()
    ids, next_cursor = search.page(session, vault, identity=identity, trait=trait, after=cursor, limit=limit)
    items = [profiles.profile(session, vault, cid, sees_pii=principal.sees_pii) for cid in ids]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/customers/{customer_id}", summary="The unified profile of one customer")
def get_customer(customer_id: CustomerId, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    return profiles.profile(session, get_vault(), customer_id, sees_pii=principal.sees_pii)


@router.get("/customers/{customer_id}/events", summary="A customer's timeline, newest first (paged)")
def customer_events(
    customer_id: CustomerId,
    session: SessionDep,
    principal: PrincipalDep,
    cursor: Annotated[str | None, Query()] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    principal.require("read")
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    canonical = merges.canonical_id(session, customer_id)
    items, next_cursor = timeline.page(
        session, get_vault(), canonical, cursor=cursor, limit=limit, sees_pii=principal.sees_pii
    )
    return {"items": items, "next_cursor": next_cursor}


@router.post("/customers/{customer_id}/merge", summary="Merge another customer into this one")
def merge_customers(
    customer_id: CustomerId, body: MergeCreate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("write")
    record = merges.merge(session, customer_id, body.merged_id, reason=body.reason, actor=principal.name)
    return {"id": record.id, "survivor_id": record.survivor_id, "merged_id": record.merged_id}


@router.post("/merges/{merge_id}/undo", summary="Undo a merge: both customers exactly as before")
def undo_merge(
    merge_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: UndoCreate,
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    principal.require("write")
    record = merges.undo(session, merge_id, actor=principal.name)
    return {
        "id": record.id,
        "survivor_id": record.survivor_id,
        "merged_id": record.merged_id,
        "undone_at": record.undone_at,
    }
