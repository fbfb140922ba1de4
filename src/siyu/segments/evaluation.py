"""Evaluating segments and rule tags: the full rebuild of one (every customer, in set operations) and the
incremental path (every dynamic segment and rule tag, for just the customers an event batch touched or
whose time re-check fell due). Both run the same compiled query; the incremental one adds `id IN (…)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import except_, select
from sqlalchemy.orm import Session

from siyu.core.database import chunks
from siyu.core.errors import Conflict, NotFound
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer
from siyu.segments import graph, membership, rechecks
from siyu.segments.compiler import members, scope_for
from siyu.segments.dialect import for_big_sets
from siyu.segments.tables import Segment
from siyu.tags import service as tags
from siyu.tags.tables import CustomerTag, Tag


@dataclass
class Outcome:
    """What an evaluation changed: per target key, (entered, exited) customer ids."""

    changes: dict[graph.Key, tuple[list[int], list[int]]] = field(default_factory=dict)

    @property
    def entered(self) -> int:
        return sum(len(e) for e, _x in self.changes.values())

    @property
    def exited(self) -> int:
        return sum(len(x) for _e, x in self.changes.values())


def _live(session: Session, ids: Sequence[int]) -> list[int]:
    c = Customer.__table__.c
    out: list[int] = []
    for part in chunks(sorted(set(ids)), 1000):
        out.extend(session.scalars(select(c.id).where(c.id.in_(part), c.merged_into_id.is_(None))))
    return sorted(out)


def _holders(session: Session, tag_id: int, ids: Sequence[int]) -> set[int]:
    t = CustomerTag.__table__.c
    out: set[int] = set()
    for part in chunks(sorted(ids), 1000):
        out.update(session.scalars(select(t.customer_id).where(t.tag_id == tag_id, t.customer_id.in_(part))))
    return out


def _reason(reasons: Mapping[int, str], ids: Sequence[int], default: str) -> str:
    found = sorted({reasons.get(c, default) for c in ids})
    return ", ".join(found) if found else default


def evaluate_customers(
    session: Session, customer_ids: Sequence[int], now: datetime, *, reasons: Mapping[int, str] | None = None
) -> Outcome:
    """Re-evaluate every dynamic segment and rule tag for these customers (dependencies first), write the
    changes with their timeline events, and schedule each customer's next time re-check. Merged-away
    customers leave every dynamic segment. Flushes only; the caller commits."""
    reasons = reasons or {}
    ids = sorted(set(customer_ids))
    outcome = Outcome()
    if not ids:
        return outcome
    targets = graph.load_targets(session)
    segment_ids = [t.id for t in targets if t.kind == "segment"]
    membership.lock_shared(session, segment_ids)
    scope = scope_for(session, now, ids)
    live: list[int] | None = None
    for target in targets:
        matched = set(session.scalars(members(scope, target.root)))
        if target.kind == "segment":
            have = membership.current(session, target.id, ids)
            entered, exited = sorted(matched - have), sorted(have - matched)
            membership.write_rows(session, target.id, entered, exited, now)
        else:
            live = _live(session, ids) if live is None else live
            have = _holders(session, target.id, live)  # merged-away customers keep theirs: not ours to touch
            entered, exited = sorted(matched - have), sorted(have - matched)
            if entered or exited:
                why = _reason(reasons, entered + exited, "evaluated")
                tags.apply(
                    session,
                    target.id,
                    add=entered,
                    remove=exited,
                    actor=f"rule:{target.id}",
                    reason=why,
                    at=now,
                )
        if entered or exited:
            outcome.changes[target.key] = (entered, exited)
    for key in sorted(k for k in outcome.changes if k[0] == "segment"):
        segment = session.get(Segment, key[1])
        assert segment is not None
        entered, exited = outcome.changes[key]
        membership.record_changes(session, segment, entered, exited, now, reasons, "evaluated")
    rechecks.schedule(session, scope, rechecks.rechecks(scope, [t.root for t in targets]))
    session.flush()
    return outcome


def rebuild(session: Session, segment_id: int, now: datetime, *, reason: str = "rebuild") -> membership.Delta:
    """Recompute a dynamic segment for every customer and write the difference (set operations in SQL),
    then schedule the time re-checks of its relative conditions. Flushes only."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id} not found", field="segment_id")
    if segment.kind != "dynamic" or segment.definition is None:
        raise Conflict(
            f"segment {segment_id} is static: its members change only by upload", field="segment_id"
        )
    if segment.archived_at is not None:
        raise Conflict(f"segment {segment_id} is archived", field="segment_id")
    membership.lock_exclusive(session, segment.id)
    run = membership.next_run(session, segment.id)  # on SQLite: the write lock, taken before any read
    for_big_sets(session)
    root = graph.parsed("segment", segment.id, segment.version, segment.definition["root"])
    scope = scope_for(session, now)
    events = segment.built_version is not None or get_settings().segment_first_build_events
    delta = membership.replace_all(session, segment, members(scope, root), run, now, reason, events=events)
    rechecks.schedule(session, scope, rechecks.rechecks(scope, [root]))
    session.refresh(segment)
    segment.member_count = delta.members
    segment.last_rebuilt_at = now
    segment.built_version = segment.version
    session.flush()
    return delta


def rebuild_tag(session: Session, tag_id: int, now: datetime, *, reason: str = "rebuild") -> tuple[int, int]:
    """The same for a rule tag: its holders become exactly the customers its rule matches."""
    tag = session.get(Tag, tag_id)
    if tag is None or not isinstance(tag.rule, dict):
        raise NotFound(f"rule tag {tag_id} not found", field="tag_id")
    root = graph.parsed("tag", tag.id, tag.rule_version, tag.rule)
    for_big_sets(session)
    scope = scope_for(session, now)
    matched = members(scope, root)
    t, c = CustomerTag.__table__.c, Customer.__table__.c
    holding = (
        select(t.customer_id)
        .join(Customer, c.id == t.customer_id)
        .where(t.tag_id == tag.id, c.merged_into_id.is_(None))
    )
    add = list(session.scalars(except_(matched, holding)))
    remove = list(session.scalars(except_(holding, matched)))
    if add or remove:
        tags.apply(session, tag.id, add=add, remove=remove, actor=f"rule:{tag.id}", reason=reason, at=now)
    rechecks.schedule(session, scope, rechecks.rechecks(scope, [root]))
    session.flush()
    return len(add), len(remove)
