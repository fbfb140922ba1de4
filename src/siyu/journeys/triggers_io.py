"""Feeding stored events to journeys: a cursor over the event log (by id) turns new events into starts
(event and segment triggers) and stimuli for the customers' live runs (waits, goals, task completions).

The cursor advances in the same transaction as the steps it causes, so each event is applied once. On
PostgreSQL ids are drawn before commit, so a reader can see id 7 while 5 is still uncommitted: ids the
cursor jumps over are kept as gaps and re-read until they appear or `runner_event_gap_wait_s` passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu.core.columns import Json
from siyu.core.database import UTCDateTime, chunks, insert_for
from siyu.core.settings import get_settings
from siyu.events.system import system_source_id
from siyu.events.tables import Event as EventRow
from siyu.messaging.sqlids import ids_value, keys_value, text_in

from . import store
from .engine import TASK_COMPLETED
from .entry import SEGMENT_ENTERED, SEGMENT_EXITED, event_starts
from .runner import Batch, Entry, listens_to
from .runtime import Event
from .tables import Journey, JourneyVersionRow, RunnerCursor
from .triggers import EventTrigger, SegmentEnteredTrigger, SegmentExitedTrigger

EVENTS_CURSOR = "events"
SYSTEM_ONLY = frozenset({SEGMENT_ENTERED, SEGMENT_EXITED, TASK_COMPLETED})  # never from a tracking source
MAX_GAPS = 1000
STALE_START = timedelta(hours=24)  # an older event (an import of history) starts no journey
Gap = list[float]  # [first id, last id, first seen (unix seconds)]


@dataclass(frozen=True)
class Stored:
    id: int
    customer_id: int
    name: str
    at: datetime
    properties: dict[str, Any]

    @property
    def key(self) -> str:
        return f"event:{self.id}"


def lock_cursor(session: Session, name: str, now: datetime) -> RunnerCursor | None:
    """The cursor row, created if missing and locked; None while another worker holds it (PostgreSQL)."""
    kind = session.get_bind().dialect.name
    query = select(RunnerCursor).where(RunnerCursor.name == name).execution_options(populate_existing=True)
    if kind == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = session.scalars(query).first()
    if found is not None:
        return found
    stmt = insert_for(kind, RunnerCursor.__table__).values(name=name, position=0, data={}, updated_at=now)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    return session.scalars(query).first()


def interesting_names(session: Session, live: Sequence[store.LiveJourney]) -> frozenset[str]:
    """Event names any journey can use: triggers of live journeys, and what versions with runs wait for."""
    names: set[str] = set()
    for journey in live:
        for trigger in journey.version.definition.triggers:
            if isinstance(trigger, EventTrigger):
                names.add(trigger.event)
            elif isinstance(trigger, SegmentEnteredTrigger):
                names.add(SEGMENT_ENTERED)
            elif isinstance(trigger, SegmentExitedTrigger):
                names.add(SEGMENT_EXITED)
    v = JourneyVersionRow.__table__.c
    in_use = (
        select(v.journey_id, v.version)
        .join(Journey, Journey.id == v.journey_id)
        .where(Journey.status != "draft")
    )
    for jid, number in session.execute(in_use):
        names |= listens_to(store.version(session, int(jid), int(number)))
    return frozenset(names)


def _read(session: Session, cursor: RunnerCursor, limit: int, now: datetime) -> tuple[list[int], int]:
    """Ids to look at (new ones after the cursor, and late arrivals in known gaps) and the new position."""
    e = EventRow.__table__.c
    ids = [
        int(i)
        for i in session.scalars(select(e.id).where(e.id > cursor.position).order_by(e.id).limit(limit))
    ]
    gaps: list[Gap] = [list(g) for g in (cursor.data or {}).get("gaps", [])]
    found_late: list[int] = []
    if gaps and session.get_bind().dialect.name == "postgresql":
        ranges = [e.id.between(int(lo), int(hi)) for lo, hi, _ in gaps]
        for part in chunks(ranges, 100):
            found_late += [int(i) for i in session.scalars(select(e.id).where(or_(*part)))]
        gaps = _subtract(gaps, found_late)
    position = cursor.position
    if session.get_bind().dialect.name == "postgresql":
        expected = position + 1
        for i in ids:
            if i > expected:
                gaps.append([expected, i - 1, now.timestamp()])
            expected = i + 1
    if ids:
        position = ids[-1]
    wait = get_settings().runner_event_gap_wait_s
    gaps = [g for g in gaps if now.timestamp() - g[2] <= wait][-MAX_GAPS:]
    cursor.data = {"gaps": gaps}
    cursor.position, cursor.updated_at = position, now
    return sorted(set(found_late) | set(ids)), position


def _subtract(gaps: list[Gap], found: list[int]) -> list[Gap]:
    if not found:
        return gaps
    out: list[Gap] = []
    hits = sorted(found)
    for lo, hi, seen in gaps:
        start = int(lo)
        for i in (h for h in hits if lo <= h <= hi):
            if i > start:
                out.append([start, i - 1, seen])
            start = i + 1
        if start <= hi:
            out.append([start, int(hi), seen])
    return out


def _details(session: Session, ids: list[int], names: frozenset[str]) -> list[Stored]:
    """The events among `ids` whose name a journey uses (system-only names from the system source)."""
    if not ids or not names:
        return []
    system = system_source_id(session)
    sql = "SELECT id, customer_id, name, timestamp, properties, source_id FROM events WHERE {in} AND {names}"
    query = text_in(session, sql, "id", names=("name", "names")).columns(
        timestamp=UTCDateTime(), properties=Json
    )
    out: list[Stored] = []
    params = {"ids": ids_value(session, ids), "names": keys_value(session, names)}
    for eid, cid, name, at, props, source in session.execute(query, params):
        if name in SYSTEM_ONLY and source != system:
            continue
        out.append(Stored(int(eid), int(cid), str(name), at, props if isinstance(props, dict) else {}))
    return sorted(out, key=lambda s: s.id)


def process_events(session: Session, now: datetime, limit: int) -> int | None:
    """Apply the next events after the cursor in this transaction; None when another worker holds the
    cursor, else how many events were read (0: nothing new)."""
    cursor = lock_cursor(session, EVENTS_CURSOR, now)
    if cursor is None:
        return None
    live = store.live_journeys(session)
    ids, _ = _read(session, cursor, limit, now)
    if not ids:
        return 0
    events = _details(session, ids, interesting_names(session, live))
    batch = Batch(session, now)
    runs = store.live_run_ids(session, {ev.customer_id for ev in events})
    stimuli: list[tuple[int, Event]] = []
    entries: list[Entry] = []
    for ev in events:
        stimulus = Event(key=ev.key, name=ev.name, at=ev.at, properties=ev.properties)
        for run_id, jid, number in runs.get(ev.customer_id, []):
            if ev.name in listens_to(store.version(session, jid, number)):
                stimuli.append((run_id, stimulus))
        for journey in live if now - ev.at <= STALE_START else ():
            if any(event_starts(t, ev.name, ev.properties) for t in journey.version.definition.triggers):
                entries.append(Entry(journey.id, ev.customer_id, ev.key, ev.at, ev.properties))
    batch.deliver(stimuli)
    batch.start(entries, live)
    batch.finish()
    return len(ids)
