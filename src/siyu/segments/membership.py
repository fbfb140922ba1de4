"""Writing membership changes: a full replacement diffed in SQL against a temporary table (no Python
loop over members), or the small entered/exited lists of an incremental evaluation. Either way every
change is a `Segment Entered` / `Segment Exited` timeline event, keyed
`segment:<id>:<run>:<entered|exited>:<customer>` (the run counter makes every transition's key unique).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Select,
    String,
    Table,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.columns import Json
from siyu.core.database import UTCDateTime, chunks, insert_for
from siyu.events.system import SystemEvent, record, system_source_id
from siyu.events.tables import Event
from siyu.segments.dialect import CreateTempAs
from siyu.segments.tables import Segment, SegmentMember

ENTERED, EXITED = "Segment Entered", "Segment Exited"
_LOCK_NAMESPACE = 0x7365_6700  # PostgreSQL advisory locks, one per segment: rebuild exclusive, workers shared
SCRATCH = Table("seg_scratch", MetaData(), Column("customer_id", BigInteger, primary_key=True))


@dataclass(frozen=True)
class Delta:
    entered: int
    exited: int
    members: int


def lock_exclusive(session: Session, segment_id: int) -> None:
    """PostgreSQL: a rebuild waits for in-flight incremental evaluations of this segment and holds
    new ones off until it commits. SQLite has one writer at a time anyway."""
    if fastsql.dialect(session) == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": _LOCK_NAMESPACE, "id": segment_id}
        )


def lock_shared(session: Session, segment_ids: Sequence[int]) -> None:
    if fastsql.dialect(session) == "postgresql" and segment_ids:
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:ns, id) FROM unnest(CAST(:ids AS integer[])) AS id"),
            {"ns": _LOCK_NAMESPACE, "ids": sorted(segment_ids)},
        )


def next_run(session: Session, segment_id: int, members_delta: int | None = None) -> int:
    """Bump the segment's transition counter (and member count); returns the run number for event keys.
    On SQLite this write is what makes a rebuild's transaction the writer before it reads."""
    s = Segment.__table__.c
    values: dict[str, Any] = {"transitions": s.transitions + 1}
    if members_delta:
        values["member_count"] = s.member_count + members_delta
    stmt = update(Segment).where(s.id == segment_id).values(**values).returning(s.transitions)
    return int(session.execute(stmt).scalar_one())


def _properties(segment: Segment, reason: str) -> dict[str, Any]:
    return {
        "segment_id": segment.id,
        "segment_name": segment.name,
        "version": segment.version,
        "reason": reason,
    }


def _event_rows(
    session: Session, segment: Segment, run: int, verb: str, cid: Any, now: datetime, reason: str
) -> Select[Any]:
    """The columns of one timeline event per customer id `cid` (a column of the FROM)."""
    return select(
        cid,
        literal(system_source_id(session)),
        literal(f"segment:{segment.id}:{run}:{verb}:") + cast(cid, String),
        literal("track"),
        literal(ENTERED if verb == "entered" else EXITED),
        literal(now, UTCDateTime),
        literal(now, UTCDateTime),
        literal(_properties(segment, reason), Json),
        literal({"library": {"name": "siyu"}}, Json),
    ).where(cid.is_not(None))  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT


EVENT_COLUMNS = ["customer_id", "source_id", "message_id", "type", "name", "timestamp", "received_at",
                 "properties", "context"]  # fmt: skip


def _insert_events(session: Session, rows: Select[Any]) -> Any:
    stmt = insert_for(fastsql.dialect(session), Event.__table__).from_select(EVENT_COLUMNS, rows)
    return stmt.on_conflict_do_nothing(index_elements=["source_id", "message_id"])


def _scratch(session: Session, matched: Select[Any]) -> None:
    """The new members in a temporary table. PostgreSQL builds it with CREATE TABLE AS, which may run the
    query in parallel (an INSERT … SELECT may not), unindexed (the diff is hash anti-joins), then analysed;
    SQLite keeps them as the rowid, which its anti-joins probe."""
    if fastsql.dialect(session) == "postgresql":
        session.execute(text("DROP TABLE IF EXISTS seg_scratch"))
        session.execute(CreateTempAs("seg_scratch", matched))
        session.execute(text("ANALYZE seg_scratch"))
        return
    session.execute(text("CREATE TEMP TABLE IF NOT EXISTS seg_scratch (customer_id INTEGER PRIMARY KEY)"))
    session.execute(delete(SCRATCH))
    session.execute(SCRATCH.insert().from_select(["customer_id"], matched))


def _rowcount(result: Any) -> int:
    return max(int(result.rowcount), 0)


def _has_members(session: Session, segment_id: int) -> bool:
    m = SegmentMember.__table__.c
    first = session.execute(select(m.customer_id).where(m.segment_id == segment_id).limit(1)).first()
    return first is not None


def replace_all(
    session: Session,
    segment: Segment,
    matched: Select[Any],
    run: int,
    now: datetime,
    reason: str,
    *,
    events: bool = True,
) -> Delta:
    """Make the members of `segment` exactly `matched` (a select of customer ids), in set operations;
    `events`: write the entered/exited timeline events (not for a new segment's first build, by default)."""
    _scratch(session, matched)
    total = int(session.execute(select(func.count()).select_from(SCRATCH)).scalar_one())
    pg = fastsql.dialect(session) == "postgresql"
    m, new = SegmentMember.__table__.c, SCRATCH.c
    gone = ~exists().where(new.customer_id == m.customer_id)
    fresh = ~exists().where(m.segment_id == segment.id, m.customer_id == new.customer_id)
    leave = delete(SegmentMember).where(m.segment_id == segment.id, gone)
    arrive = insert_for(fastsql.dialect(session), SegmentMember.__table__).from_select(
        ["segment_id", "customer_id", "entered_at"],
        select(literal(segment.id), new.customer_id, literal(now, UTCDateTime)).where(fresh),
    )
    if not events and not _has_members(session, segment.id):
        # A first build: nothing to diff against, and the segment's exclusive lock keeps incremental
        # writers out, so a plain INSERT … SELECT (no anti-join, no conflict check, no rows returned).
        plain = insert_for(fastsql.dialect(session), SegmentMember.__table__).from_select(
            ["segment_id", "customer_id", "entered_at"],
            select(literal(segment.id), new.customer_id, literal(now, UTCDateTime)),
        )
        session.execute(plain)
        session.execute(delete(SCRATCH))
        return Delta(entered=total, exited=0, members=total)
    if not events:
        exited = _rowcount(session.execute(leave))
        added = arrive.on_conflict_do_nothing()
        if pg:  # psycopg reports no row count for INSERT … SELECT
            entered = len(session.execute(added.returning(literal(1))).all())
        else:
            entered = _rowcount(session.execute(added))
    elif pg:  # one pass each: the change and its events in one statement (data-modifying CTEs)
        left = leave.returning(m.customer_id).cte("left_segment")
        rows = _event_rows(session, segment, run, "exited", left.c.customer_id, now, reason).select_from(left)
        exited = len(session.execute(_insert_events(session, rows).returning(literal(1))).all())
        came = arrive.on_conflict_do_nothing().returning(m.customer_id).cte("entered_segment")
        rows = _event_rows(session, segment, run, "entered", came.c.customer_id, now, reason).select_from(
            came
        )
        entered = len(session.execute(_insert_events(session, rows).returning(literal(1))).all())
    else:
        leaving = select(m.customer_id).where(m.segment_id == segment.id, gone).subquery()
        rows = _event_rows(session, segment, run, "exited", leaving.c.customer_id, now, reason)
        session.execute(_insert_events(session, rows))
        exited = _rowcount(session.execute(leave))
        arriving = select(new.customer_id).where(fresh).subquery()
        rows = _event_rows(session, segment, run, "entered", arriving.c.customer_id, now, reason)
        session.execute(_insert_events(session, rows))
        entered = _rowcount(session.execute(arrive.on_conflict_do_nothing()))
    session.execute(delete(SCRATCH))
    return Delta(entered=entered, exited=exited, members=total)


def current(session: Session, segment_id: int, ids: Sequence[int]) -> set[int]:
    m = SegmentMember.__table__.c
    out: set[int] = set()
    for part in chunks(sorted(ids), 1000):
        out.update(
            session.scalars(select(m.customer_id).where(m.segment_id == segment_id, m.customer_id.in_(part)))
        )
    return out


def write_rows(
    session: Session, segment_id: int, entered: Sequence[int], exited: Sequence[int], now: datetime
) -> None:
    """Membership rows now (later segments of the same evaluation may depend on them)."""
    kind = fastsql.dialect(session)
    if entered:
        sql = fastsql.insert_sql(kind, "segment_members", ("segment_id", "customer_id", "entered_at"))
        sql += " ON CONFLICT (segment_id, customer_id) DO NOTHING"
        at = fastsql.db_time(kind, now)
        fastsql.run_many(session, sql, [(segment_id, c, at) for c in sorted(entered)])
    m = SegmentMember.__table__.c
    for part in chunks(sorted(exited), 1000):
        session.execute(delete(SegmentMember).where(m.segment_id == segment_id, m.customer_id.in_(part)))


def record_changes(
    session: Session,
    segment: Segment,
    entered: Sequence[int],
    exited: Sequence[int],
    now: datetime,
    reasons: Mapping[int, str],
    default_reason: str,
) -> None:
    """Bump the run counter and member count, and write the timeline events of an incremental change."""
    run = next_run(session, segment.id, len(entered) - len(exited))
    events = [
        SystemEvent(cid, name, f"segment:{segment.id}:{run}:{verb}:{cid}", now,
                    _properties(segment, reasons.get(cid, default_reason)))
        for ids, name, verb in ((entered, ENTERED, "entered"), (exited, EXITED, "exited"))
        for cid in sorted(ids)
    ]  # fmt: skip
    record(session, events, received_at=now)
