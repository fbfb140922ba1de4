"""The taxonomy operators edit: create, update, archive and list tag groups and tags.

Archiving keeps the row and all history; archiving a tag that customers still carry needs `force`,
which first removes it from them (each removal recorded like any other).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.tags import service
from siyu.tags.schemas import (
    CATEGORY_LABELS,
    KIND_LABELS,
    TagCreate,
    TagGroupCreate,
    TagGroupPublic,
    TagGroupUpdate,
    TagPublic,
    TagUpdate,
    check_rule,
    refers_to_tag,
)
from siyu.tags.tables import CustomerTag, Tag, TagGroup


def get_group(session: Session, group_id: int) -> TagGroup:
    group = session.get(TagGroup, group_id)
    if group is None:
        raise NotFound(f"tag group {group_id} not found", field="group_id")
    return group


def _unique_group_name(session: Session, name: str, own_id: int | None = None) -> None:
    other = session.scalar(select(TagGroup).where(TagGroup.name == name))
    if other is not None and other.id != own_id:
        archived = " (archived)" if other.archived_at else ""
        raise Conflict(f"a tag group named {name!r} already exists{archived}", field="name")


def _unique_tag_name(session: Session, group_id: int, name: str, own_id: int | None = None) -> None:
    other = session.scalar(select(Tag).where(Tag.group_id == group_id, Tag.name == name))
    if other is not None and other.id != own_id:
        archived = " (archived)" if other.archived_at else ""
        raise Conflict(f"this group already has a tag named {name!r}{archived}", field="name")


def create_group(session: Session, body: TagGroupCreate) -> TagGroup:
    _unique_group_name(session, body.name)
    group = TagGroup(
        name=body.name,
        category=body.category,
        kind=body.kind,
        exclusive=body.exclusive,
        description=body.description,
        created_at=now(),
    )
    session.add(group)
    session.flush()
    return group


def update_group(session: Session, group_id: int, body: TagGroupUpdate) -> TagGroup:
    group = get_group(session, group_id)
    if body.name is not None and body.name != group.name:
        _unique_group_name(session, body.name, group.id)
        group.name = body.name
    if body.category is not None:
        group.category = body.category
    if body.exclusive and not group.exclusive:
        tag_ids = select(Tag.id).where(Tag.group_id == group.id)
        crowded = session.scalar(
            select(func.count()).select_from(
                select(CustomerTag.customer_id)
                .where(CustomerTag.tag_id.in_(tag_ids))
                .group_by(CustomerTag.customer_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        if crowded:
            raise Conflict(
                f"{crowded} customer(s) carry several tags of {group.name!r}: it cannot become exclusive",
                field="exclusive",
            )
    if body.exclusive is not None:
        group.exclusive = body.exclusive
    if "description" in body.model_fields_set:
        group.description = body.description
    session.flush()
    return group


def archive_group(session: Session, group_id: int, *, actor: str, force: bool) -> TagGroup:
    """Archive the group and every tag in it (with `force`, removing them from customers first)."""
    group = get_group(session, group_id)
    tags = list(session.scalars(select(Tag).where(Tag.group_id == group.id).order_by(Tag.id)))
    _refuse_if_carried(session, [t.id for t in tags], force, f"tag group {group.name!r}")
    for tag in tags:
        archive_tag(session, tag.id, actor=actor, force=force)
    if group.archived_at is None:
        group.archived_at = now()
    session.flush()
    return group


def create_tag(session: Session, body: TagCreate) -> Tag:
    group = get_group(session, body.group_id)
    if group.archived_at is not None:
        raise Conflict(f"tag group {group.name!r} is archived", field="group_id")
    _unique_tag_name(session, group.id, body.name)
    rule = _checked_rule(group, body.rule, required=True)
    tag = Tag(
        group_id=group.id,
        name=body.name,
        description=body.description,
        rule=rule,
        rule_version=1 if rule is not None else 0,
        created_at=now(),
    )
    session.add(tag)
    session.flush()
    if rule is not None:
        _build_rule_tag(session, tag, rule)
    return tag


def _build_rule_tag(session: Session, tag: Tag, rule: dict[str, Any]) -> None:
    """Refuse reference cycles (through segments or other rule tags), then give the tag its holders now;
    afterwards the segment worker keeps them current like a segment's members."""
    from siyu.segments import evaluation, graph  # segments imports the tag service: import late
    from siyu.segments.schemas import parse_condition

    graph.check_acyclic(session, ("tag", tag.id), parse_condition(rule), field="rule")
    evaluation.rebuild_tag(session, tag.id, now(), reason="rule saved")


def _checked_rule(group: TagGroup, rule: dict[str, Any] | None, *, required: bool) -> dict[str, Any] | None:
    if group.kind != "rule":
        if rule is not None:
            raise ValidationFailed(f"a {group.kind} tag cannot carry a rule", field="rule")
        return None
    if rule is None:
        if required:
            raise ValidationFailed("a rule tag needs a rule (a segment condition tree)", field="rule")
        return None
    return check_rule(rule)


def get_tag(session: Session, tag_id: int) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFound(f"tag {tag_id} not found", field="tag_id")
    return tag


def update_tag(session: Session, tag_id: int, body: TagUpdate) -> Tag:
    tag = get_tag(session, tag_id)
    group = get_group(session, tag.group_id)
    if body.name is not None and body.name != tag.name:
        _unique_tag_name(session, group.id, body.name, tag.id)
        tag.name = body.name
    if "description" in body.model_fields_set:
        tag.description = body.description
    if "rule" in body.model_fields_set:
        rule = _checked_rule(group, body.rule, required=True)
        if refers_to_tag(rule, tag.id):
            raise ValidationFailed("a rule tag's rule cannot test the tag itself", field="rule")
        if rule != tag.rule:
            tag.rule, tag.rule_version = rule, tag.rule_version + 1
            session.flush()
            if rule is not None:
                _build_rule_tag(session, tag, rule)
    session.flush()
    return tag


def archive_tag(session: Session, tag_id: int, *, actor: str, force: bool) -> Tag:
    tag = get_tag(session, tag_id)
    _refuse_if_carried(session, [tag.id], force, f"tag {tag.name!r}")
    carriers = list(session.scalars(select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag.id)))
    if carriers:
        group = get_group(session, tag.group_id)
        service.apply_resolved(
            session, tag, group, [], sorted(carriers), actor=actor, reason="tag archived", at=now()
        )
    if tag.archived_at is None:
        tag.archived_at = now()
    session.flush()
    return tag


def _refuse_if_carried(session: Session, tag_ids: list[int], force: bool, what: str) -> None:
    if force or not tag_ids:
        return
    carried = sum(service.counts_by_tag(session, tag_ids).values())
    if carried:
        raise Conflict(
            f"{what} is carried by customers ({carried} memberships): remove them first or pass force=true",
            field="force",
        )


def group_public(group: TagGroup, tags_count: int) -> TagGroupPublic:
    return TagGroupPublic(
        id=group.id,
        name=group.name,
        category=group.category,
        category_label=CATEGORY_LABELS.get(group.category, group.category),
        kind=group.kind,
        kind_label=KIND_LABELS.get(group.kind, group.kind),
        exclusive=group.exclusive,
        description=group.description,
        created_at=group.created_at,
        archived_at=group.archived_at,
        tags_count=tags_count,
    )


def tag_public(tag: Tag, group: TagGroup, members: int) -> TagPublic:
    return TagPublic(
        id=tag.id,
        group_id=group.id,
        group=group.name,
        category=group.category,
        kind=group.kind,
        exclusive=group.exclusive,
        name=tag.name,
        description=tag.description,
        rule=tag.rule,
        rule_version=tag.rule_version,
        created_at=tag.created_at,
        archived_at=tag.archived_at,
        members=members,
    )


def list_groups(session: Session, *, archived: bool = False) -> list[TagGroupPublic]:
    query = select(TagGroup).order_by(TagGroup.id)
    if not archived:
        query = query.where(TagGroup.archived_at.is_(None))
    counted = select(Tag.group_id, func.count()).where(Tag.archived_at.is_(None)).group_by(Tag.group_id)
    counts = {int(g): int(n) for g, n in session.execute(counted)}
    return [group_public(g, counts.get(g.id, 0)) for g in session.scalars(query)]


def list_tags(session: Session, *, group_id: int | None = None, archived: bool = False) -> list[TagPublic]:
    """Tags with their current member counts (one grouped count query for all of them)."""
    query = select(Tag, TagGroup).join(TagGroup, TagGroup.id == Tag.group_id).order_by(Tag.group_id, Tag.id)
    if group_id is not None:
        query = query.where(Tag.group_id == get_group(session, group_id).id)
    if not archived:
        query = query.where(Tag.archived_at.is_(None))
    rows = [(t, g) for t, g in session.execute(query)]
    counts = service.counts_by_tag(session, [t.id for t, _ in rows] if group_id is not None else None)
    return [tag_public(t, g, counts.get(t.id, 0)) for t, g in rows]


def describe_tag(session: Session, tag_id: int) -> TagPublic:
    tag = get_tag(session, tag_id)
    return tag_public(
        tag, get_group(session, tag.group_id), service.counts_by_tag(session, [tag.id]).get(tag.id, 0)
    )
