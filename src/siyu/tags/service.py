"""The tag service every engine calls: `ensure_group`, `ensure_tag`, and `apply`, which adds or removes
one tag for many customers set-based (chunked IN lists), keeping exclusivity, history and the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.database import chunks, insert_for
from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.customers.merges import canonical_id
from siyu.customers.tables import Customer
from siyu.events.system import SystemEvent, record
from siyu.tags import store
from siyu.tags.schemas import check_choice, check_name, check_rule
from siyu.tags.tables import CATEGORIES, KINDS, CustomerTag, Tag, TagGroup

CHUNK = 1000  # ids per IN list: well under SQLite's and PostgreSQL's parameter limits
_GROUP_LOCK = 0x7461_6700  # PostgreSQL advisory-lock namespace: one apply per tag group at a time
Progress = Callable[[int], None]


@dataclass
class TagDelta:
    """Customers whose tag changed. `displaced`: other tags of an exclusive group → customers who lost it."""

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    displaced: dict[int, list[int]] = field(default_factory=dict)


def ensure_group(
    session: Session, name: str, *, category: str, kind: str, exclusive: bool, description: str | None = None
) -> TagGroup:
    """The group called `name`, created if missing; refuses one that exists with other settings."""
    name = check_name(name)
    check_choice(category, CATEGORIES, "category")
    check_choice(kind, KINDS, "kind")
    values = {"name": name, "category": category, "kind": kind, "exclusive": exclusive}
    stmt = insert_for(session.get_bind().dialect.name, TagGroup.__table__).values(
        **values, description=description, created_at=now()
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    group = session.scalars(
        select(TagGroup).where(TagGroup.name == name).execution_options(populate_existing=True)
    ).one()
    for attr, wanted in values.items():
        if getattr(group, attr) != wanted:
            raise Conflict(
                f"tag group {name!r} exists with {attr}={getattr(group, attr)!r}, not {wanted!r}", field=attr
            )
    return group


def ensure_tag(
    session: Session,
    group_id: int,
    name: str,
    *,
    description: str | None = None,
    rule: dict[str, Any] | None = None,
) -> Tag:
    """The tag `name` of the group, created if missing. A given `rule` (or description) that differs from
    the stored one replaces it; a new rule bumps `rule_version`."""
    group = session.get(TagGroup, group_id)
    if group is None:
        raise NotFound(f"tag group {group_id} not found", field="group_id")
    name = check_name(name)
    if rule is not None:
        if group.kind != "rule":
            raise ValidationFailed(
                f"only tags of a rule group carry a rule ({group.name!r} is {group.kind})", field="rule"
            )
        rule = check_rule(rule)
    stmt = insert_for(session.get_bind().dialect.name, Tag.__table__).values(
        group_id=group_id,
        name=name,
        description=description,
        rule=rule,
        rule_version=1 if rule is not None else 0,
        created_at=now(),
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["group_id", "name"]))
    tag = session.scalars(
        select(Tag)
        .where(Tag.group_id == group_id, Tag.name == name)
        .execution_options(populate_existing=True)
    ).one()
    if rule is not None and tag.rule != rule:
        tag.rule, tag.rule_version = rule, tag.rule_version + 1
    if description is not None and tag.description != description:
        tag.description = description
    session.flush()
    return tag


def resolve(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Each known customer id → the customer holding its data now (itself unless merged away).
    Unknown ids are absent. One query per chunk; merge chains are followed only for merged ids."""
    out: dict[int, int] = {}
    unique = sorted(set(ids))
    for part in chunks(unique, CHUNK):
        rows = session.execute(select(Customer.id, Customer.merged_into_id).where(Customer.id.in_(part)))
        for cid, merged_into in rows:
            out[cid] = cid if merged_into is None else canonical_id(session, cid)
    return out


def apply(
    session: Session,
    tag_id: int,
    *,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    actor: str,
    reason: str | None,
    at: datetime,
) -> TagDelta:
    """Add and remove `tag_id` for these customers (merged ids count as their survivor). Idempotent:
    only real changes are written, each with a `tag_history` row and a timeline event."""
    tag, group = load(session, tag_id)
    lists = {}
    for name, ids in (("add", add), ("remove", remove)):
        wanted = list(ids)
        found = resolve(session, wanted)
        missing = sorted(set(wanted) - set(found))
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
            raise NotFound(f"{len(missing)} customer(s) not found: {shown}", field=name)
        lists[name] = sorted(set(found.values()))
    return apply_resolved(
        session, tag, group, lists["add"], lists["remove"], actor=actor, reason=reason, at=at
    )


def load(session: Session, tag_id: int) -> tuple[Tag, TagGroup]:
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFound(f"tag {tag_id} not found", field="tag_id")
    group = session.get(TagGroup, tag.group_id)
    assert group is not None  # foreign key
    return tag, group


def apply_resolved(
    session: Session,
    tag: Tag,
    group: TagGroup,
    add: Sequence[int],
    remove: Sequence[int],
    *,
    actor: str,
    reason: str | None,
    at: datetime,
    progress: Progress | None = None,
) -> TagDelta:
    """`apply` for ids already resolved to existing, not-merged customers (sorted, unique)."""
    both = set(add) & set(remove)
    if both:
        raise ValidationFailed(f"customer {min(both)} is both added and removed", field="remove")
    if add and (tag.archived_at is not None or group.archived_at is not None):
        raise Conflict(f"tag {tag.name!r} is archived: it cannot be added", field="tag_id")
    _lock_group(session, group.id)
    writer = _Writer(session, tag, group, actor=actor[:100], reason=reason[:255] if reason else None, at=at)
    others = (
        list(session.scalars(select(Tag.id).where(Tag.group_id == group.id, Tag.id != tag.id)))
        if group.exclusive
        else []
    )
    delta = TagDelta()
    replaced = f"replaced by {tag.name} (exclusive group {group.name})"
    for part in chunks(add, CHUNK):
        have = store.members_among(session, tag.id, part)
        new = [c for c in part if c not in have]
        for cid, other in store.take_away(session, others, new):
            delta.displaced.setdefault(other, []).append(cid)
            writer.history(cid, other, "removed", replaced)
        store.insert_members(session, tag.id, new, at, writer.actor)
        for cid in new:
            writer.history(cid, tag.id, "added", writer.reason)
        delta.added.extend(new)
        writer.flush()
        if progress:
            progress(len(part))
    for part in chunks(remove, CHUNK):
        gone = [cid for cid, _tag in store.take_away(session, [tag.id], part)]
        for cid in gone:
            writer.history(cid, tag.id, "removed", writer.reason)
        delta.removed.extend(gone)
        writer.flush()
        if progress:
            progress(len(part))
    # rule tags change inside the segment pass (in dependency order); system jobs (RFM, lifecycle,
    # predictions) queue what they changed themselves
    if not actor.startswith(("rule:", "system:")):
        from siyu.segments.queue import enqueue_now

        enqueue_now(session, [*delta.added, *delta.removed], at, "manual")  # segments testing this tag
    return delta


def _lock_group(session: Session, group_id: int) -> None:
    """PostgreSQL: one transaction changes a group's memberships at a time, so reads stay true until
    commit. SQLite has one writer anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": _GROUP_LOCK, "id": group_id})


class _Writer:
    """Buffers one chunk's history rows; `flush` writes them and their timeline events in a few
    statements (each history id is its event's idempotency key)."""

    def __init__(
        self, session: Session, tag: Tag, group: TagGroup, *, actor: str, reason: str | None, at: datetime
    ) -> None:
        self.session, self.tag, self.group = session, tag, group
        self.actor, self.reason, self.at = actor, reason, at
        self.names: dict[int, str] = {tag.id: tag.name}
        self.rows: list[store.HistoryRow] = []

    def history(self, cid: int, tag_id: int, action: str, reason: str | None) -> None:
        self.rows.append((cid, tag_id, action, self.at, self.actor, reason[:255] if reason else None))

    def flush(self) -> None:
        ids = store.insert_history(self.session, self.rows)
        events = [self._event(hid, row) for hid, row in zip(ids, self.rows, strict=True)]
        record(self.session, events, received_at=now())
        self.rows = []

    def _event(self, history_id: int, row: store.HistoryRow) -> SystemEvent:
        cid, tag_id, action, _at, actor, reason = row
        if tag_id not in self.names:
            self.names[tag_id] = self.session.scalar(select(Tag.name).where(Tag.id == tag_id)) or ""
        properties = {
            "tag_id": tag_id,
            "tag": self.names[tag_id],
            "group": self.group.name,
            "actor": actor,
            "reason": reason,
        }
        name = "Tag Added" if action == "added" else "Tag Removed"
        return SystemEvent(cid, name, f"tag-history:{history_id}", self.at, properties)


def counts_by_tag(session: Session, tag_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Current members per tag, in one grouped query."""
    query = select(CustomerTag.tag_id, func.count()).group_by(CustomerTag.tag_id)
    if tag_ids is not None:
        query = query.where(CustomerTag.tag_id.in_(tag_ids))
    return {int(t): int(n) for t, n in session.execute(query)}
