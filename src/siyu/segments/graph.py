"""What incremental evaluation evaluates: dynamic segments and rule tags ("targets"), parsed once per
stored version, in dependency order (a segment that tests another segment or a rule tag comes after it);
and the cycle check run when a definition is saved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import ValidationFailed
from siyu.segments.conditions import SegmentCondition, TagCondition, walk
from siyu.segments.schemas import parse_condition
from siyu.segments.tables import Segment
from siyu.tags.tables import Tag, TagGroup

log = logging.getLogger(__name__)
Key = tuple[str, int]  # ("segment", id) or ("tag", id)


@dataclass(frozen=True)
class Target:
    kind: str  # "segment" | "tag"
    id: int
    name: str
    version: int
    root: Any  # a parsed Condition

    @property
    def key(self) -> Key:
        return (self.kind, self.id)


@lru_cache(maxsize=4096)
def _parse(kind: str, ident: int, version: int, raw: str) -> Any:
    return parse_condition(orjson.loads(raw), "rule" if kind == "tag" else "definition.root")


def parsed(kind: str, ident: int, version: int, condition: Any) -> Any:
    """Parse a stored condition once per (target, version)."""
    return _parse(kind, ident, version, orjson.dumps(condition, option=orjson.OPT_SORT_KEYS).decode())


def references(root: Any) -> set[Key]:
    out: set[Key] = set()
    for node in walk(root):
        if isinstance(node, SegmentCondition):
            out.add(("segment", node.segment_id))
        elif isinstance(node, TagCondition):
            out.add(("tag", node.tag_id))
    return out


def load_targets(session: Session) -> list[Target]:
    """Active dynamic segments and rule tags, dependencies first. A rule that no longer parses is skipped
    (and logged), never evaluated half-way."""
    targets: list[Target] = []
    segments = select(Segment.id, Segment.name, Segment.version, Segment.definition).where(
        Segment.kind == "dynamic", Segment.archived_at.is_(None), Segment.definition.is_not(None)
    )
    for sid, name, version, definition in session.execute(segments.order_by(Segment.id)):
        try:
            targets.append(
                Target("segment", sid, name, version, parsed("segment", sid, version, definition["root"]))
            )
        except (ValidationFailed, KeyError, TypeError) as exc:
            log.warning("segment %s is not evaluated: %s", sid, exc)
    tags = (
        select(Tag.id, Tag.name, Tag.rule_version, Tag.rule)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(Tag.rule.is_not(None), Tag.archived_at.is_(None), TagGroup.archived_at.is_(None))
    )
    for tid, name, version, rule in session.execute(tags.order_by(Tag.id)):
        if not isinstance(rule, dict):
            continue
        try:
            targets.append(Target("tag", tid, name, version, parsed("tag", tid, version, rule)))
        except ValidationFailed as exc:
            log.warning("rule tag %s is not evaluated: %s", tid, exc)
    return ordered(targets)


def ordered(targets: list[Target]) -> list[Target]:
    """Dependencies first; ties by (kind, id). A cycle (refused at save, but rule tags are saved
    elsewhere) is broken by evaluating its members in id order, once."""
    by_key = {t.key: t for t in targets}
    deps = {t.key: references(t.root) & set(by_key) for t in targets}
    done: set[Key] = set()
    out: list[Target] = []
    while len(out) < len(targets):
        ready = sorted(k for k in by_key if k not in done and deps[k] <= done)
        if not ready:
            ready = [min(k for k in by_key if k not in done)]
            log.warning(
                "dependency cycle among %s; evaluating %s first", sorted(set(by_key) - done), ready[0]
            )
        for key in ready:
            done.add(key)
            out.append(by_key[key])
    return out


def check_acyclic(session: Session, key: Key, root: Any, field: str = "definition") -> None:
    """Refuse a definition whose references lead back to itself (through segments or rule tags)."""
    graph = {t.key: references(t.root) for t in load_targets(session)}
    graph[key] = references(root)
    stack, seen = [(key, [key])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == key:
                shown = " → ".join(f"{k}:{i}" for k, i in [*path, key])
                raise ValidationFailed(f"{field}: conditions refer back to themselves ({shown})", field=field)
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
