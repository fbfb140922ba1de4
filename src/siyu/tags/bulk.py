"""Bulk tag and untag: by an uploaded list (customer ids, or identities `TYPE:VALUE` looked up through
the blind index for personal data) or by a segment's members. Bad lines are reported by line number;
the good ones are applied. Merged customers count as their survivor.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.database import chunks
from siyu.core.errors import Conflict, NotFound, ValidationFailed
from siyu.core.pii import Vault
from siyu.customers.identity_types import lookup_key
from siyu.customers.search import parse_pair
from siyu.customers.tables import Identity
from siyu.segments.tables import Segment, SegmentMember
from siyu.tags import service
from siyu.tags.schemas import MAX_ID
from siyu.tags.tables import Tag, TagGroup

HEADERS = frozenset({"id", "customer_id", "customer", "identity", "客户id", "客户编号", "身份"})
Entry = tuple[int, int | str]  # (line or position, value)


@dataclass(frozen=True)
class Rejected:
    list: str  # "add", "remove" or "file"
    line: int
    value: str
    reason: str


@dataclass
class BulkResult:
    tag_id: int
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    displaced: int = 0
    redirected: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def parse_lines(lines: Iterable[str]) -> list[Entry]:
    """One entry per line (the first CSV column); blank lines, `#` comments and a header line are
    skipped. Line numbers count every line of the file, from 1."""
    entries: list[Entry] = []
    seen_content = False
    for number, raw in enumerate(lines, 1):
        line = raw.lstrip("\ufeff").strip()
        if not line or line.startswith("#"):
            continue
        first = next(csv.reader([line]), [""])
        value = first[0].strip() if first else ""
        if not seen_content and value.lower() in HEADERS:
            seen_content = True
            continue
        seen_content = True
        entries.append((number, value))
    return entries


def numbered(values: Sequence[int | str]) -> list[Entry]:
    """Entries of a JSON list, numbered by position from 1."""
    return [(i, v) for i, v in enumerate(values, 1)]


def _classify(value: int | str) -> tuple[str, int | str] | str:
    """("id", n) or ("identity", "TYPE:VALUE"), or the reason the entry is unusable."""
    if isinstance(value, int):
        return ("id", value) if 1 <= value <= MAX_ID else "customer id out of range"
    text = value.strip()
    if "\x00" in text:
        return "contains a NUL character"
    if text.isascii() and text.isdecimal():
        number = int(text)
        return ("id", number) if 1 <= number <= MAX_ID else "customer id out of range"
    if text.lower().startswith("identity "):
        text = text[len("identity ") :].strip()
    if ":" in text:
        return ("identity", text)
    return "neither a customer id nor an identity TYPE:VALUE"


def resolve_entries(
    session: Session, vault: Vault, name: str, entries: Sequence[Entry]
) -> tuple[list[int], list[Rejected], int]:
    """(customer ids now holding the data, sorted and unique; rejected entries; entries redirected
    from a merged customer to its survivor)."""
    rejected: list[Rejected] = []
    by_id: list[tuple[Entry, int]] = []
    by_key: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        kind = _classify(entry[1])
        if isinstance(kind, str):
            rejected.append(Rejected(name, entry[0], str(entry[1])[:300], kind))
        elif kind[0] == "id":
            by_id.append((entry, int(kind[1])))
        else:
            try:
                key = lookup_key(vault, *parse_pair(str(kind[1]), "identity"))
            except ValidationFailed as exc:
                rejected.append(Rejected(name, entry[0], str(entry[1])[:300], exc.message))
                continue
            by_key.setdefault(key, []).append(entry)
    found = _identity_owners(session, by_key)
    for key, holders in by_key.items():
        if key in found:
            by_id.extend((e, found[key]) for e in holders)
        else:
            rejected.extend(
                Rejected(name, e[0], str(e[1])[:300], "no customer has this identity") for e in holders
            )
    canonical = service.resolve(session, (cid for _e, cid in by_id))
    ids: set[int] = set()
    redirected = 0
    for entry, cid in by_id:
        if cid not in canonical:
            rejected.append(Rejected(name, entry[0], str(entry[1])[:300], f"no customer with id {cid}"))
            continue
        ids.add(canonical[cid])
        redirected += canonical[cid] != cid
    return sorted(ids), sorted(rejected, key=lambda r: r.line), redirected


def _identity_owners(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(type, lookup) → customer id, one query per identity type and chunk."""
    by_type: dict[str, list[str]] = {}
    for kind, lookup in keys:
        by_type.setdefault(kind, []).append(lookup)
    out: dict[tuple[str, str], int] = {}
    for kind, lookups in by_type.items():
        for part in chunks(lookups, service.CHUNK):
            query = select(Identity.lookup, Identity.customer_id).where(
                Identity.type == kind, Identity.lookup.in_(part)
            )
            out.update({(kind, lookup): int(cid) for lookup, cid in session.execute(query)})
    return out


def editable(session: Session, tag_id: int) -> tuple[Tag, TagGroup]:
    """A tag people may add and remove by hand (rule tags are computed by their rule)."""
    tag, group = service.load(session, tag_id)
    if group.kind == "rule":
        raise Conflict(
            f"tag {tag.name!r} is computed by a rule (group {group.name!r}): change the rule instead",
            field="tag_id",
        )
    return tag, group


def apply_entries(
    session: Session,
    vault: Vault,
    tag_id: int,
    *,
    add: Sequence[Entry] = (),
    remove: Sequence[Entry] = (),
    actor: str,
    reason: str | None,
    at: datetime,
    progress: service.Progress | None = None,
) -> BulkResult:
    tag, group = editable(session, tag_id)
    add_ids, add_rejected, add_redirected = resolve_entries(session, vault, "add", add)
    remove_ids, remove_rejected, remove_redirected = resolve_entries(session, vault, "remove", remove)
    delta = service.apply_resolved(
        session, tag, group, add_ids, remove_ids, actor=actor, reason=reason, at=at, progress=progress
    )
    return BulkResult(
        tag_id=tag.id,
        added=len(delta.added),
        removed=len(delta.removed),
        unchanged=len(add_ids) + len(remove_ids) - len(delta.added) - len(delta.removed),
        displaced=sum(len(v) for v in delta.displaced.values()),
        redirected=add_redirected + remove_redirected,
        rejected=add_rejected + remove_rejected,
    )


def apply_segment(
    session: Session,
    tag_id: int,
    segment_id: int,
    *,
    action: str,
    actor: str,
    reason: str | None,
    at: datetime,
) -> BulkResult:
    """Add the tag to (or remove it from) every current member of the segment."""
    tag, group = editable(session, tag_id)
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id} not found", field="segment_id")
    members = session.scalars(select(SegmentMember.customer_id).where(SegmentMember.segment_id == segment.id))
    canonical = service.resolve(session, members)
    ids = sorted(set(canonical.values()))
    why = reason or f"segment {segment.id} {segment.name}"[:255]
    add, remove = (ids, []) if action == "add" else ([], ids)
    delta = service.apply_resolved(session, tag, group, add, remove, actor=actor, reason=why, at=at)
    return BulkResult(
        tag_id=tag.id,
        added=len(delta.added),
        removed=len(delta.removed),
        unchanged=len(ids) - len(delta.added) - len(delta.removed),
        displaced=sum(len(v) for v in delta.displaced.values()),
        redirected=sum(1 for k, v in canonical.items() if k != v),
    )
