"""Segments as operators manage them: create (version 1), update (a new version; stored versions never
change), archive, read, list, page members, a customer's memberships, preview of a draft, and the members
of static segments (uploaded ids or identities). Evaluation itself is in `evaluation.py`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.core.settings import get_settings
from siyu.customers.merges import canonical_id
from siyu.customers.tables import Customer
from siyu.segments import graph
from siyu.segments.compiler import members, scope_for
from siyu.segments.conditions import SegmentCondition, TagCondition, walk
from siyu.segments.dialect import for_big_sets
from siyu.segments.evaluation import rebuild, rebuild_tag
from siyu.segments.schemas import Definition, SegmentCreate, SegmentUpdate, dump, parse_definition
from siyu.segments.tables import Segment, SegmentMember, SegmentVersion
from siyu.tags.tables import Tag

__all__ = ["create", "get", "list_segments", "preview", "rebuild", "rebuild_tag", "update"]


def _check_references(session: Session, definition: Definition, self_id: int | None) -> None:
    for node in walk(definition.root):
        if isinstance(node, SegmentCondition):
            other = session.get(Segment, node.segment_id)
            if other is None or other.archived_at is not None:
                raise ValidationFailed(
                    f"definition: segment {node.segment_id} does not exist or is archived", field="definition"
                )
            if node.segment_id == self_id:
                raise ValidationFailed(
                    "definition: a segment cannot test its own membership", field="definition"
                )
        elif isinstance(node, TagCondition) and session.get(Tag, node.tag_id) is None:
            raise ValidationFailed(f"definition: tag {node.tag_id} does not exist", field="definition")


def _validated(session: Session, data: Any, self_id: int | None) -> Definition:
    definition = parse_definition(data)
    _check_references(session, definition, self_id)
    return definition


def get(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id} not found", field="segment_id")
    return segment


def create(
    session: Session, body: SegmentCreate, *, actor: str, now: datetime, build: bool = True
) -> Segment:
    """Save version 1; a dynamic segment is built right away unless `build` is false (the worker does it)."""
    if session.scalar(select(Segment.id).where(Segment.name == body.name)) is not None:
        raise Conflict(f"a segment named {body.name!r} already exists", field="name")
    stored: dict[str, Any] | None = None
    if body.kind == "dynamic":
        if body.definition is None:
            raise ValidationFailed("definition: a dynamic segment needs a definition", field="definition")
        definition = _validated(session, body.definition, None)
        stored = dump(definition)
    elif body.definition is not None:
        raise ValidationFailed("definition: a static segment has no definition", field="definition")
    segment = Segment(
        name=body.name,
        description=body.description,
        kind=body.kind,
        version=1,
        definition=stored,
        created_at=now,
        updated_at=now,
        created_by=actor[:100],
        member_count=0,
        transitions=0,
        built_version=None if body.kind == "dynamic" else 1,
    )
    session.add(segment)
    session.flush()
    if stored is not None:
        graph.check_acyclic(session, ("segment", segment.id), definition.root)
    session.add(
        SegmentVersion(
            segment_id=segment.id, version=1, definition=stored, created_at=now, created_by=actor[:100]
        )
    )
    session.flush()
    if stored is not None and build:
        rebuild(session, segment.id, now, reason="created")
    return segment


def update(
    session: Session, segment_id: int, body: SegmentUpdate, *, actor: str, now: datetime, build: bool = True
) -> Segment:
    """Rename, describe, or save a new definition version (then rebuild: reason `definition vN`)."""
    segment = get(session, segment_id)
    if segment.archived_at is not None:
        raise Conflict(f"segment {segment_id} is archived", field="segment_id")
    if body.name is not None and body.name != segment.name:
        if session.scalar(select(Segment.id).where(Segment.name == body.name)) is not None:
            raise Conflict(f"a segment named {body.name!r} already exists", field="name")
        segment.name = body.name
    if "description" in body.model_fields_set:
        segment.description = body.description
    changed = False
    if body.definition is not None:
        if segment.kind != "dynamic":
            raise ValidationFailed("definition: a static segment has no definition", field="definition")
        definition = _validated(session, body.definition, segment.id)
        graph.check_acyclic(session, ("segment", segment.id), definition.root)
        stored = dump(definition)
        if stored != segment.definition:
            segment.version += 1
            segment.definition = stored
            session.add(
                SegmentVersion(
                    segment_id=segment.id,
                    version=segment.version,
                    definition=stored,
                    created_at=now,
                    created_by=actor[:100],
                )
            )
            changed = True
    segment.updated_at = now
    session.flush()
    if changed and build:
        rebuild(session, segment.id, now, reason=f"definition v{segment.version}")
    return segment


def archive(session: Session, segment_id: int, *, now: datetime) -> Segment:
    """Stop evaluating a segment (members stay as they were). Refused while others refer to it."""
    segment = get(session, segment_id)
    users = [t for t in graph.load_targets(session) if ("segment", segment_id) in graph.references(t.root)]
    if users:
        shown = ", ".join(f"{t.kind} {t.id}" for t in users)
        raise Conflict(f"segment {segment_id} is used by {shown}", field="segment_id")
    segment.archived_at = segment.archived_at or now
    session.flush()
    return segment


def list_segments(session: Session, *, include_archived: bool = False) -> list[Segment]:
    query = select(Segment).order_by(Segment.id)
    if not include_archived:
        query = query.where(Segment.archived_at.is_(None))
    return list(session.scalars(query))


def versions(session: Session, segment_id: int) -> list[SegmentVersion]:
    get(session, segment_id)
    query = (
        select(SegmentVersion).where(SegmentVersion.segment_id == segment_id).order_by(SegmentVersion.version)
    )
    return list(session.scalars(query))


def member_page(
    session: Session, segment_id: int, *, after: int | None, limit: int
) -> tuple[list[tuple[int, datetime]], int | None]:
    """Members by ascending customer id after the cursor, with when they entered; and the next cursor."""
    get(session, segment_id)
    m = SegmentMember.__table__.c
    query = select(m.customer_id, m.entered_at).where(m.segment_id == segment_id)
    if after is not None:
        query = query.where(m.customer_id > after)
    rows = [(int(c), e) for c, e in session.execute(query.order_by(m.customer_id).limit(limit + 1))]
    return rows[:limit], rows[limit - 1][0] if len(rows) > limit else None


def customer_segments(session: Session, customer_id: int) -> tuple[int, list[tuple[Segment, datetime]]]:
    """The segments a customer (merged ids follow to the survivor) is in now."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    canonical = canonical_id(session, customer_id)
    query = (
        select(Segment, SegmentMember.entered_at)
        .join(SegmentMember, SegmentMember.segment_id == Segment.id)
        .where(SegmentMember.customer_id == canonical)
        .order_by(Segment.id)
    )
    return canonical, [(s, e) for s, e in session.execute(query)]


def preview(session: Session, data: Any, *, now: datetime, sample: int | None = None) -> dict[str, Any]:
    """Count and a sample of a draft definition, without saving anything: one query (the count is a
    window over the whole set, the sample its first rows)."""
    started = time.perf_counter()
    definition = _validated(session, data, None)
    for_big_sets(session)
    scope = scope_for(session, now)
    size = get_settings().segment_preview_sample if sample is None else sample
    sub = members(scope, definition.root).subquery()
    rows = session.execute(select(sub.c.customer_id, func.count().over()).limit(max(size, 1))).all()
    total = int(rows[0][1]) if rows else 0
    ids = [int(cid) for cid, _n in rows[:size]]
    return {"count": total, "sample": ids, "took_ms": round((time.perf_counter() - started) * 1000, 1)}


def recount(session: Session, segment_id: int) -> int:
    m = SegmentMember.__table__.c
    return int(session.execute(select(func.count()).where(m.segment_id == segment_id)).scalar_one())
