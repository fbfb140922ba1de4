"""Tag API (`/api/v1/tag-groups…`, `/api/v1/tags…`, `/api/v1/customers/{id}/tags`): thin routes over the
catalog, bulk and membership modules. `read` to look, `write` to change; the actor is `user:<token>`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError as PydanticError

from siyu.core.clock import now
from siyu.core.database import write_lock
from siyu.core.errors import PayloadTooLarge, ValidationFailed
from siyu.core.pii import get_vault
from siyu.tags import bulk, catalog, membership
from siyu.tags.schemas import (
    MAX_ENTRIES,
    MAX_ID,
    BulkResultPublic,
    RejectedEntry,
    SegmentApply,
    TagCreate,
    TagGroupCreate,
    TagGroupPublic,
    TagGroupUpdate,
    TagMembersChange,
    TagPublic,
    TagUpdate,
)
from siyu.web.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["tags"])

TagId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Tag id")]
GroupId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Tag group id")]
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID, description="Customer id")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Force = Annotated[bool, Query(description="Archive even if customers carry it (they lose it, recorded)")]
Archived = Annotated[bool, Query(description="Include archived ones")]
MAX_UPLOAD = 64 * 1024 * 1024
LIST_CONTENT = ("text/csv", "text/plain", "application/octet-stream")


@contextmanager
def _writing(session: SessionDep) -> Iterator[None]:
    """Changes run under the SQLite writer lock in a fresh transaction, committed before the lock is
    released (a read snapshot taken before the lock could not be written from)."""
    session.commit()
    with write_lock(session):
        yield
        session.commit()


def _actor(principal: PrincipalDep) -> str:
    return f"user:{principal.name}"[:100]


# -- groups --------------------------------------------------------------------------------------------


@router.get("/tag-groups", summary="Tag groups", response_model=list[TagGroupPublic])
def list_groups(session: SessionDep, principal: PrincipalDep, archived: Archived = False) -> Any:
    principal.require("read")
    return catalog.list_groups(session, archived=archived)


@router.post("/tag-groups", summary="Create a tag group", status_code=201, response_model=TagGroupPublic)
def create_group(body: TagGroupCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("write")
    with _writing(session):
        group = catalog.create_group(session, body)
        out = catalog.group_public(group, 0)
    return out


@router.get("/tag-groups/{group_id}", summary="One tag group", response_model=TagGroupPublic)
def get_group(group_id: GroupId, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("read")
    group = catalog.get_group(session, group_id)
    return catalog.group_public(group, len(catalog.list_tags(session, group_id=group.id)))


@router.patch("/tag-groups/{group_id}", summary="Rename or change a tag group", response_model=TagGroupPublic)
def update_group(
    group_id: GroupId, body: TagGroupUpdate, session: SessionDep, principal: PrincipalDep
) -> Any:
    principal.require("write")
    with _writing(session):
        group = catalog.update_group(session, group_id, body)
        out = catalog.group_public(group, len(catalog.list_tags(session, group_id=group.id)))
    return out


@router.delete(
    "/tag-groups/{group_id}", summary="Archive a tag group and its tags", response_model=TagGroupPublic
)
def archive_group(
    group_id: GroupId, session: SessionDep, principal: PrincipalDep, force: Force = False
) -> Any:
    principal.require("write")
    with _writing(session):
        group = catalog.archive_group(session, group_id, actor=_actor(principal), force=force)
        out = catalog.group_public(group, 0)
    return out


# -- tags ----------------------------------------------------------------------------------------------


@router.get("/tags", summary="Tags with their member counts", response_model=list[TagPublic])
def list_tags(
    session: SessionDep,
    principal: PrincipalDep,
    group_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    archived: Archived = False,
) -> Any:
    principal.require("read")
    return catalog.list_tags(session, group_id=group_id, archived=archived)


@router.post("/tags", summary="Create a tag", status_code=201, response_model=TagPublic)
def create_tag(body: TagCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("write")
    with _writing(session):
        tag = catalog.create_tag(session, body)
        out = catalog.describe_tag(session, tag.id)
    return out


@router.get("/tags/{tag_id}", summary="One tag", response_model=TagPublic)
def get_tag(tag_id: TagId, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("read")
    return catalog.describe_tag(session, tag_id)


@router.patch(
    "/tags/{tag_id}", summary="Rename a tag, or change its description or rule", response_model=TagPublic
)
def update_tag(tag_id: TagId, body: TagUpdate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("write")
    with _writing(session):
        catalog.update_tag(session, tag_id, body)
        out = catalog.describe_tag(session, tag_id)
    return out


@router.delete("/tags/{tag_id}", summary="Archive a tag (history is kept)", response_model=TagPublic)
def archive_tag(tag_id: TagId, session: SessionDep, principal: PrincipalDep, force: Force = False) -> Any:
    principal.require("write")
    with _writing(session):
        catalog.archive_tag(session, tag_id, actor=_actor(principal), force=force)
        out = catalog.describe_tag(session, tag_id)
    return out


# -- members -------------------------------------------------------------------------------------------


async def _upload(request: Request) -> tuple[str, bytes]:
    """The request body (bounded) and its media type."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    body = bytearray()
    stream: AsyncIterator[bytes] = request.stream()
    async for piece in stream:
        body.extend(piece)
        if len(body) > MAX_UPLOAD:
            raise PayloadTooLarge(f"the body is over {MAX_UPLOAD // 1024 // 1024} MB", field="body")
    return media, bytes(body)


def _file_entries(raw: bytes) -> list[bulk.Entry]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the file must be UTF-8 text", field="file") from exc
    entries = bulk.parse_lines(text.splitlines())
    if len(entries) > MAX_ENTRIES:
        raise ValidationFailed(f"the file has more than {MAX_ENTRIES} lines", field="file")
    return entries


def _json_body(raw: bytes) -> TagMembersChange:
    try:
        return TagMembersChange.model_validate_json(raw or b"{}")
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ValidationFailed(f"{where}: {first.get('msg', 'invalid')}", field=where) from exc


MEMBERS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TagMembersChange.model_json_schema()},
            "text/csv": {
                "schema": {"type": "string", "description": "One customer id or TYPE:VALUE per line"}
            },
        },
    }
}


@router.post(
    "/tags/{tag_id}/customers",
    summary="Tag or untag customers: a JSON body, or an uploaded list (text/csv)",
    response_model=BulkResultPublic,
    openapi_extra=MEMBERS_BODY,
)
def change_members(
    tag_id: TagId,
    upload: Annotated[tuple[str, bytes], Depends(_upload)],
    session: SessionDep,
    principal: PrincipalDep,
    action: Annotated[Literal["add", "remove"], Query(description="For an uploaded list")] = "add",
    reason: Annotated[str | None, Query(max_length=255, description="For an uploaded list")] = None,
) -> Any:
    principal.require("write")
    media, raw = upload
    if reason is not None and "\x00" in reason:
        raise ValidationFailed("reason must not contain NUL characters", field="reason")
    if media in LIST_CONTENT:
        lines = _file_entries(raw)
        add, remove = (lines, []) if action == "add" else ([], lines)
    elif media == "application/json":
        body = _json_body(raw)
        add, remove, reason = bulk.numbered(body.add), bulk.numbered(body.remove), body.reason
    else:
        raise ValidationFailed("send JSON, or a list as text/csv or text/plain", field="content-type")
    with _writing(session):
        result = bulk.apply_entries(
            session,
            get_vault(),
            tag_id,
            add=add,
            remove=remove,
            actor=_actor(principal),
            reason=reason,
            at=now(),
        )
    return _public(result)


@router.post(
    "/tags/{tag_id}/apply-segment",
    summary="Tag or untag every member of a segment",
    response_model=BulkResultPublic,
)
def apply_segment(tag_id: TagId, body: SegmentApply, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("write")
    with _writing(session):
        result = bulk.apply_segment(
            session,
            tag_id,
            body.segment_id,
            action=body.action,
            actor=_actor(principal),
            reason=body.reason,
            at=now(),
        )
    return _public(result)


def _public(result: bulk.BulkResult) -> BulkResultPublic:
    rejected = [
        RejectedEntry(list=r.list, line=r.line, value=r.value, reason=r.reason) for r in result.rejected
    ]
    return BulkResultPublic(
        tag_id=result.tag_id,
        added=result.added,
        removed=result.removed,
        unchanged=result.unchanged,
        displaced=result.displaced,
        redirected=result.redirected,
        rejected=rejected,
    )


@router.get("/tags/{tag_id}/customers", summary="Customers who carry the tag (paged by customer id)")
def tag_customers(
    tag_id: TagId,
    session: SessionDep,
    principal: PrincipalDep,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    principal.require("read")
    items, next_cursor = membership.customers_of(session, tag_id, after=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/customers/{customer_id}/tags", summary="A customer's tags now, and their tag history")
def customer_tags(
    customer_id: CustomerId,
    session: SessionDep,
    principal: PrincipalDep,
    history_cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    history_limit: Limit = 100,
) -> dict[str, Any]:
    principal.require("read")
    canonical = membership.customer_or_404(session, customer_id)
    history, next_cursor = membership.history_of(
        session, canonical, before=history_cursor, limit=history_limit
    )
    return {
        "customer_id": canonical,
        "requested_id": customer_id,
        "tags": membership.tags_of(session, canonical),
        "history": history,
        "next_history_cursor": next_cursor,
    }
