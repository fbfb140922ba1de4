"""Segment API (`/api/v1/segments…`, `/api/v1/customers/{id}/segments`): thin routes over the service,
evaluation, explain and export modules; each request is one unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.database import write_lock
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.segments import evaluation, exports, graph, service, static
from siyu.segments.conditions import Condition
from siyu.segments.explain import explain
from siyu.segments.schemas import (
    CONDITION_TYPES,
    SegmentCreate,
    SegmentPreview,
    SegmentPublic,
    SegmentUpdate,
    StaticMembersChange,
)
from siyu.segments.tables import Segment
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["segments"])
SegmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Segment id")]
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Customer id")]


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """Writes commit inside the SQLite writer lock (the worker thread writes too) and before the response
    is sent; the read the auth check began ends first, so the write starts from a fresh snapshot."""
    session.commit()
    with write_lock(session):
        yield
        session.commit()


def public(segment: Segment) -> SegmentPublic:
    return SegmentPublic.model_validate(segment, from_attributes=True)


@router.post("/segments", summary="Create a segment (dynamic: built now unless build=false)", status_code=201)
def create_segment(
    body: SegmentCreate, session: SessionDep, principal: PrincipalDep, build: bool = True
) -> SegmentPublic:
    principal.require("write")
    with writing(session):
        segment = service.create(session, body, actor=principal.name, now=now(), build=build)
    return public(segment)


@router.get("/segments", summary="Segments, with member counts")
def list_segments(
    session: SessionDep, principal: PrincipalDep, archived: bool = False
) -> dict[str, list[SegmentPublic]]:
    principal.require("read")
    return {"items": [public(s) for s in service.list_segments(session, include_archived=archived)]}


@router.get("/segments/conditions", summary="The condition language: types, labels (中文/English), schema")
def conditions(principal: PrincipalDep) -> dict[str, Any]:
    from pydantic import TypeAdapter

    principal.require("read")
    types = [
        {"type": t, "label_zh": zh, "label_en": en, "description": what}
        for t, (zh, en, what) in CONDITION_TYPES.items()
    ]
    return {"types": types, "schema": TypeAdapter(Condition).json_schema()}


@router.post("/segments/preview", summary="Count and sample of a draft definition (nothing saved)")
def preview(body: SegmentPreview, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    return service.preview(session, body.definition, now=now(), sample=body.sample)


@router.get("/segments/{segment_id}", summary="Definition, version, member count, last rebuilt")
def get_segment(segment_id: SegmentId, session: SessionDep, principal: PrincipalDep) -> SegmentPublic:
    principal.require("read")
    return public(service.get(session, segment_id))


@router.put("/segments/{segment_id}", summary="Rename, describe, or save a new definition version")
def update_segment(
    segment_id: SegmentId,
    body: SegmentUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    build: bool = True,
) -> SegmentPublic:
    principal.require("write")
    with writing(session):
        segment = service.update(session, segment_id, body, actor=principal.name, now=now(), build=build)
    return public(segment)


@router.delete("/segments/{segment_id}", summary="Archive a segment (no longer evaluated)")
def archive_segment(segment_id: SegmentId, session: SessionDep, principal: PrincipalDep) -> SegmentPublic:
    principal.require("write")
    with writing(session):
        segment = service.archive(session, segment_id, now=now())
    return public(segment)


@router.get("/segments/{segment_id}/versions", summary="Every saved version of the definition")
def versions(segment_id: SegmentId, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("read")
    rows = service.versions(session, segment_id)
    return {
        "items": [
            {
                "version": v.version,
                "definition": v.definition,
                "created_at": v.created_at,
                "created_by": v.created_by,
            }
            for v in rows
        ]
    }


@router.get("/segments/{segment_id}/members", summary="Members by customer id (paged)")
def members(
    segment_id: SegmentId,
    session: SessionDep,
    principal: PrincipalDep,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    principal.require("read")
    rows, next_cursor = service.member_page(session, segment_id, after=cursor, limit=limit)
    return {"items": [{"customer_id": c, "entered_at": e} for c, e in rows], "next_cursor": next_cursor}


@router.post("/segments/{segment_id}/members", summary="Static segments: replace, add or remove members")
def upload(
    segment_id: SegmentId, body: StaticMembersChange, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Entries are customer ids or identities `TYPE:VALUE` (e.g. `phone:13912345678`); merged ids count as
    the customer they were merged into; entries matching no one are listed in `rejected`."""
    principal.require("write")
    with writing(session):
        segment = service.get(session, segment_id)
        ids, rejected = static.resolve_entries(session, get_vault(), body.entries)
        entered, exited = static.replace_static(
            session, segment, ids, body.mode, actor=principal.name, now=now()
        )
    return {
        "entered": entered,
        "exited": exited,
        "rejected": rejected[:1000],
        "member_count": segment.member_count,
    }


@router.post("/segments/{segment_id}/rebuild", summary="Recompute a dynamic segment for every customer now")
def rebuild(segment_id: SegmentId, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("write")
    with writing(session):
        delta = evaluation.rebuild(session, segment_id, now(), reason=f"rebuild by {principal.name}")
    return {"entered": delta.entered, "exited": delta.exited, "member_count": delta.members}


@router.get(
    "/segments/{segment_id}/export", summary="CSV of members, or hashed phone/email list for ad platforms"
)
def export(
    segment_id: SegmentId,
    session: SessionDep,
    principal: PrincipalDep,
    fmt: Annotated[Literal["csv"], Query(alias="format", description="csv (the only format)")] = "csv",
    fields: Annotated[str | None, Query(description="Comma-separated, e.g. id,phone,trait:city")] = None,
    hashed: Annotated[str | None, Query(description="phone or email: SHA-256 per line")] = None,
) -> StreamingResponse:
    principal.require("read")
    segment = service.get(session, segment_id)
    vault = get_vault()
    if hashed is not None:
        principal.require("pii")  # a hash of an 11-digit phone number is reversible: still personal data
        body = exports.hashed_chunks(session, vault, segment.id, hashed)
        name, media = f"segment-{segment.id}-{hashed}-sha256.txt", "text/plain"
    else:
        wanted = exports.check_fields(
            [f.strip() for f in (fields or ",".join(exports.DEFAULT_FIELDS)).split(",") if f.strip()]
        )
        currency = get_settings().default_currency
        body = exports.csv_chunks(
            session, vault, segment.id, wanted, sees_pii=principal.sees_pii, currency=currency
        )
        name, media = f"segment-{segment.id}.csv", "text/csv; charset=utf-8"
    first = next(body, "")  # errors surface before the response starts
    return StreamingResponse(
        _chain(first, body),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _chain(first: str, rest: Any) -> Any:
    if first:
        yield first
    yield from rest


@router.get("/customers/{customer_id}/segments", summary="A customer's segments; ?segment_id= explains one")
def customer_segments(
    customer_id: CustomerId,
    session: SessionDep,
    principal: PrincipalDep,
    segment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    principal.require("read")
    canonical, rows = service.customer_segments(session, customer_id)
    out: dict[str, Any] = {
        "customer_id": canonical,
        "segments": [
            {"id": s.id, "name": s.name, "kind": s.kind, "version": s.version, "entered_at": e}
            for s, e in rows
        ],
    }
    if segment_id is not None:
        segment = service.get(session, segment_id)
        member = any(s.id == segment.id for s, _e in rows)
        detail: dict[str, Any] = {"segment_id": segment.id, "version": segment.version, "member": member}
        if segment.kind == "dynamic" and segment.definition is not None:
            root = graph.parsed("segment", segment.id, segment.version, segment.definition["root"])
            detail["tree"] = explain(session, root, canonical, now())
            detail["matches_now"] = detail["tree"]["result"]
        out["explain"] = detail
    return out
