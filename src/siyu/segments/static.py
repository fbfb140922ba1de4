"""Static segments: members come only from uploads — customer ids or identities (`TYPE:VALUE`), merged ids
following to their survivor — replacing the list, or adding or removing entries; each change a timeline event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, ValidationFailed
from siyu.core.pii import Vault
from siyu.customers import search
from siyu.segments import membership
from siyu.segments.tables import Segment, SegmentMember
from siyu.tags.service import resolve


def resolve_entries(
    session: Session, vault: Vault, entries: Sequence[int | str]
) -> tuple[list[int], list[dict[str, Any]]]:
    """Customer ids for the entries, and the entries that match no one (with their 1-based position)."""
    numbers = [int(e) for e in entries if isinstance(e, int) or e.strip().isdecimal()]
    found = resolve(session, numbers)
    ids: list[int] = []
    rejected: list[dict[str, Any]] = []
    for position, entry in enumerate(entries, start=1):
        if isinstance(entry, int) or entry.strip().isdecimal():
            cid = found.get(int(entry))
            if cid is None:
                rejected.append({"line": position, "value": str(entry), "reason": "no such customer"})
            else:
                ids.append(cid)
            continue
        try:
            hits = search.by_identity(session, vault, entry)
        except ValidationFailed as exc:
            rejected.append({"line": position, "value": entry[:50], "reason": exc.message})
            continue
        if not hits:
            rejected.append(
                {"line": position, "value": entry[:50], "reason": "no customer has this identity"}
            )
        ids.extend(resolve(session, hits).values())
    return ids, rejected


def replace_static(
    session: Session, segment: Segment, customer_ids: Sequence[int], mode: str, *, actor: str, now: datetime
) -> tuple[int, int]:
    """Members of a static segment after an upload: replace them, or add/remove these. (entered, exited)."""
    if segment.kind != "static":
        raise Conflict(
            f"segment {segment.id} is dynamic: its members follow its definition", field="segment_id"
        )
    if segment.archived_at is not None:
        raise Conflict(f"segment {segment.id} is archived", field="segment_id")
    wanted = set(customer_ids)
    m = SegmentMember.__table__.c
    if mode == "replace":
        have = set(session.scalars(select(m.customer_id).where(m.segment_id == segment.id)))
        entered, exited = sorted(wanted - have), sorted(have - wanted)
    else:
        have = membership.current(session, segment.id, sorted(wanted))
        entered, exited = (sorted(wanted - have), []) if mode == "add" else ([], sorted(have))
    membership.write_rows(session, segment.id, entered, exited, now)
    if entered or exited:
        membership.record_changes(session, segment, entered, exited, now, {}, f"upload by {actor}"[:100])
    session.refresh(segment)
    segment.updated_at = now
    segment.last_rebuilt_at = now
    session.flush()
    return len(entered), len(exited)
