"""Running an import: read and map the file, then feed the messages through the ingestion pipeline.

Messages go in chunks of about 500 rows, each chunk one `events.service.ingest_request` (the tracking
API's transaction, write lock and retries), under a source per kind (`import:customers`, …) created on
first use. `dry_run` runs every chunk through `ingest` in one transaction and rolls it back.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.auth.tables import Source
from siyu.core.clock import now
from siyu.core.database import session_factory, write_lock
from siyu.core.pii import Vault
from siyu.core.settings import Settings
from siyu.events.ingest import IngestReport, ingest
from siyu.events.service import ingest_request
from siyu.events.tables import Event
from siyu.imports.columns import ColumnPlan, parse_maps, plan_columns
from siyu.imports.messages import Context, build_rows
from siyu.imports.orders import build_orders
from siyu.imports.reader import read_table
from siyu.imports.records import Built, Kind, Reject, UnusableInput

CHUNK_ROWS = 500


@dataclass
class Prepared:
    """A file read and mapped, nothing written yet."""

    kind: Kind
    path: Path
    plan: ColumnPlan
    read: int  # data rows (blank ones not counted)
    built: list[Built]
    rejects: list[Reject]


@dataclass
class Summary:
    kind: Kind
    source: str
    read: int = 0
    imported: int = 0  # rows whose message was accepted
    duplicates: int = 0  # rows already imported (same messageId): unchanged
    rejected: int = 0
    messages: int = 0  # messages accepted (an order of several rows is one message)
    customers: set[int] = field(default_factory=set)
    rejects: list[Reject] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "source": self.source,
            "read": self.read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "messages": self.messages,
            "customers": len(self.customers),
            "dry_run": self.dry_run,
        }


def prepare(
    kind: Kind,
    path: Path,
    settings: Settings,
    vault: Vault,
    *,
    maps: Sequence[str] = (),
    skip: Sequence[str] = (),
    sheet: str | None = None,
) -> Prepared:
    """Read and map the file; raises UnusableInput when it cannot be imported at all."""
    table = read_table(path, sheet)
    plan = plan_columns(kind, table.columns, parse_maps(maps), skip)
    ctx = Context(ZoneInfo(settings.timezone), vault)
    if kind is Kind.orders:
        built, rejects = build_orders(table.rows, plan, ctx)
    else:
        built, rejects = build_rows(kind, table.rows, plan, ctx)
    rejects = sorted([*table.rejects, *rejects], key=lambda r: r.row)
    return Prepared(kind, path, plan, len(table.rows) + len(table.rejects), built, rejects)


def source_for(session: Session, name: str) -> int:
    """The id of the source named `name`, created (with a write key nobody sees) on first use."""
    row = session.scalar(select(Source).where(Source.name == name))
    if row is None:
        row, _key = create_source(session, name)
    elif row.disabled:
        raise UnusableInput(f"source {name!r} is disabled", field="--source")
    return row.id


def _chunks(built: list[Built], rows: int) -> Iterator[list[Built]]:
    chunk: list[Built] = []
    size = 0
    for item in built:
        chunk.append(item)
        size += len(item.rows)
        if size >= rows:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _stored(session: Session, source_id: int, chunk: list[Built]) -> set[str]:
    """Message ids of `chunk` the source already holds: rows imported by an earlier run."""
    ids = [b.message_id for b in chunk]
    query = select(Event.message_id).where(Event.source_id == source_id, Event.message_id.in_(ids))
    return set(session.scalars(query))


def _tally(summary: Summary, chunk: list[Built], stored: set[str], report: IngestReport | None) -> None:
    """Count the chunk's rows into `summary`: already stored, rejected by the pipeline, or imported."""
    fresh = [b for b in chunk if b.message_id not in stored]
    summary.duplicates += sum(len(b.rows) for b in chunk if b.message_id in stored)
    if report is None:
        return
    failed: set[int] = set()
    for error in report.errors:
        failed.add(error.index)
        summary.rejects.extend(fresh[error.index].rejects(error.field, error.message))
    # Anything the pipeline still saw as a duplicate was written by a concurrent import meanwhile.
    summary.duplicates += report.duplicates
    summary.messages += report.accepted
    summary.imported += sum(len(b.rows) for i, b in enumerate(fresh) if i not in failed) - report.duplicates
    summary.customers |= report.customer_ids


def _commit_chunk(source_id: int, chunk: list[Built], summary: Summary) -> None:
    """One chunk, one transaction, through the tracking API's own path (retries included)."""
    with session_factory()() as session:
        stored = _stored(session, source_id, chunk)
    raws = [b.message for b in chunk if b.message_id not in stored]
    _tally(summary, chunk, stored, ingest_request(source_id, raws, None, None) if raws else None)


def _dry_chunk(
    session: Session, settings: Settings, vault: Vault, source_id: int, chunk: list[Built], summary: Summary
) -> None:
    """One chunk inside the caller's (rolled back) transaction."""
    stored = _stored(session, source_id, chunk)
    raws = [b.message for b in chunk if b.message_id not in stored]
    report = (
        ingest(session, settings, vault, source_id=source_id, raws=raws, received_at=now()) if raws else None
    )
    _tally(summary, chunk, stored, report)


def _committed_source(name: str, attempts: int = 3) -> int:
    for attempt in range(1, attempts + 1):
        session = session_factory()()
        try:
            with write_lock(session):
                source_id = source_for(session, name)
                session.commit()
            return source_id
        except IntegrityError:  # another import created it meanwhile
            session.rollback()
            if attempt == attempts:
                raise
        finally:
            session.close()
    raise AssertionError("unreachable")


@contextmanager
def _rolled_back() -> Iterator[Session]:
    session = session_factory()()
    try:
        with write_lock(session):
            yield session
    finally:
        session.rollback()
        session.close()


def execute(
    prepared: Prepared,
    settings: Settings,
    vault: Vault,
    *,
    source: str | None = None,
    dry_run: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Ingest the prepared messages; `progress(n)` is called as n more rows are done."""
    name = source or f"import:{prepared.kind.value}"
    summary = Summary(prepared.kind, name, read=prepared.read, dry_run=dry_run)
    summary.rejects.extend(prepared.rejects)
    if progress and prepared.rejects:
        progress(len({r.row for r in prepared.rejects}))
    seen: set[str] = set()
    unique: list[Built] = []
    for item in prepared.built:  # identical rows of one file: the first one counts, the others are unchanged
        if item.message_id in seen:
            summary.duplicates += len(item.rows)
            if progress:
                progress(len(item.rows))
        else:
            seen.add(item.message_id)
            unique.append(item)
    if dry_run:
        with _rolled_back() as session:
            source_id = source_for(session, name)
            for chunk in _chunks(unique, chunk_rows):
                _dry_chunk(session, settings, vault, source_id, chunk, summary)
                if progress:
                    progress(sum(len(b.rows) for b in chunk))
    else:
        source_id = _committed_source(name)
        for chunk in _chunks(unique, chunk_rows):
            _commit_chunk(source_id, chunk, summary)
            if progress:
                progress(sum(len(b.rows) for b in chunk))
    summary.rejects.sort(key=lambda r: r.row)
    summary.rejected = len({r.row for r in summary.rejects})
    return summary


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.rejects.csv")


def write_rejects(path: Path, rejects: Sequence[Reject]) -> None:
    """The rejects report: `row, field, reason`, UTF-8 with a BOM so Excel shows Chinese correctly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "field", "reason"])
        writer.writerows([r.row, r.field, r.reason] for r in rejects)
