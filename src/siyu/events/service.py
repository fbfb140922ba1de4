"""Tracking requests end to end: authenticate the write key, decode the body, ingest in one transaction.

Transient conflicts (two PostgreSQL transactions creating the same identity) are retried as a whole:
first optimistically, side by side with other batches; then alone, so the batch is sure to go through.
"""

from __future__ import annotations

import base64
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from siyu.auth.service import hash_secret
from siyu.auth.tables import Source
from siyu.core.clock import now
from siyu.core.database import begin_immediate, session_factory, write_lock
from siyu.core.errors import PayloadTooLarge, Unauthorized, ValidationFailed
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.identity_cache import cache_for
from siyu.events.ingest import IngestReport, Prepared, prepare, write
from siyu.events.spec import parse_time
from siyu.segments.queue import enqueue

_source_cache: dict[str, tuple[int, float]] = {}
_CACHE_SECONDS = 30.0
OPTIMISTIC_ATTEMPTS = 3  # then the batch runs alone (PostgreSQL); SQLite writers are serialised anyway
MAX_ATTEMPTS = 6
_INGEST_LOCK = 0x5159_5500  # advisory-lock key shared by every ingesting transaction


def write_key_from(authorization: str | None, body: dict[str, Any] | None) -> str:
    """Basic auth with the write key as user name (Segment SDKs), or `writeKey` in the body (analytics.js)."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip()).decode()
            except (ValueError, UnicodeDecodeError) as exc:
                raise Unauthorized("malformed Basic authorization header", field="authorization") from exc
            return decoded.partition(":")[0]
    if body and isinstance(body.get("writeKey"), str):
        return str(body["writeKey"])
    raise Unauthorized("send the source's write key as the Basic-auth user name", field="authorization")


def cached_source_id(key: str) -> int | None:
    """The source of a write key seen in the last 30 s, without touching the database (else None)."""
    hit = _source_cache.get(hash_secret(key))
    return hit[0] if hit and hit[1] > time.monotonic() else None


def source_id_for(key: str) -> int:
    digest = hash_secret(key)
    hit = _source_cache.get(digest)
    if hit and hit[1] > time.monotonic():
        return hit[0]
    with session_factory()() as session:
        from sqlalchemy import select

        source_id = session.scalar(
            select(Source.id).where(Source.write_key_hash == digest, Source.disabled.is_(False))
        )
    if source_id is None:
        raise Unauthorized("unknown write key", field="authorization")
    _source_cache[digest] = (source_id, time.monotonic() + _CACHE_SECONDS)
    return source_id


def decode_body(raw: bytes, content_encoding: str | None) -> dict[str, Any]:
    limit = get_settings().max_request_bytes
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is {len(raw)} bytes; the limit is {limit} bytes", field="body")
    if content_encoding and "gzip" in content_encoding.lower():
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise ValidationFailed(f"body is not valid gzip: {exc}", field="body") from exc
        if len(raw) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes", field="body")
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"body is not valid JSON: {exc}", field="body") from exc
    if not isinstance(body, dict):
        raise ValidationFailed("body must be a JSON object", field="body")
    return body


def messages_of(body: dict[str, Any], batch: bool) -> tuple[list[Any], Any]:
    """(messages, batch-level sentAt); batch-level `context` is the default for each message's context."""
    if not batch:
        return [body], body.get("sentAt")
    items = body.get("batch")
    if not isinstance(items, list):
        raise ValidationFailed("batch must be a list of messages", field="batch")
    shared = body.get("context")
    if isinstance(shared, dict) and shared:
        items = [
            {**m, "context": {**shared, **(m.get("context") or {})}} if isinstance(m, dict) else m
            for m in items
        ]
    return items, body.get("sentAt")


def _batch_lock(session: Session, alone: bool) -> None:
    """PostgreSQL: every batch holds the ingest lock shared; a batch that keeps conflicting takes it
    exclusively, waits for the batches in flight and runs alone, so it cannot conflict again."""
    if session.get_bind().dialect.name != "postgresql":
        return
    kind = "pg_advisory_xact_lock" if alone else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {kind}(:key)"), {"key": _INGEST_LOCK})


@dataclass(eq=False)
class _Job:
    prepared: Prepared
    done: bool = False
    report: IngestReport | None = None
    error: BaseException | None = None


_waiting: list[_Job] = []  # prepared batches waiting for the writer, in arrival order
_waiting_lock = threading.Lock()
_writer = threading.Lock()  # one group written at a time in this process
MAX_GROUP_MESSAGES = 1000  # a group commit takes waiting batches up to this many messages


def ingest_request(source_id: int, raws: list[Any], sent_at: Any, forced_type: str | None) -> IngestReport:
    """Validate and prepare the batch (no lock held), then write it with a group commit.

    Batches that arrive while another group is being written wait together; the first of them to get the
    writer writes all of them in one transaction (one statement per table, one commit) and hands every
    request its own report. Nobody is answered before the transaction holding their messages committed.
    """
    settings, vault = get_settings(), get_vault()
    batch_sent_at = parse_time(sent_at, "sentAt") if isinstance(sent_at, str) else None
    prepared = prepare(
        settings,
        vault,
        source_id=source_id,
        raws=raws,
        received_at=now(),
        batch_sent_at=batch_sent_at,
        forced_type=forced_type,
    )
    if settings.ingest_writer_socket:  # a front of `siyu serve --workers N` on SQLite
        from siyu.events import writer

        return writer.submit(settings.ingest_writer_socket, prepared)
    return write_prepared(prepared)


def write_prepared(prepared: Prepared) -> IngestReport:
    """Write one prepared batch with a group commit (see `ingest_request`); its report after the commit."""
    job = _Job(prepared)
    with _waiting_lock:
        _waiting.append(job)
    while not job.done:
        with _writer:
            if job.done:
                break
            _write_group(_take_group())
    if job.error is not None:
        raise job.error
    assert job.report is not None
    return job.report


def write_group(batches: list[Prepared]) -> list[IngestReport | BaseException]:
    """Write batches that are already grouped (the ingestion writer's loop) as one group commit: each
    batch's report, or the exception that kept it from being written."""
    jobs = [_Job(b) for b in batches]
    with _writer:
        _write_group(jobs)
    lost = RuntimeError("the batch was not written")
    return [job.report if job.report is not None else job.error or lost for job in jobs]


def _take_group() -> list[_Job]:
    with _waiting_lock:
        group: list[_Job] = []
        size = 0
        while _waiting and (not group or size + len(_waiting[0].prepared.parsed) <= MAX_GROUP_MESSAGES):
            job = _waiting.pop(0)
            size += len(job.prepared.parsed)
            group.append(job)
        return group


def _write_group(group: list[_Job]) -> None:
    """Write a group in one transaction; if that fails for another reason than a transient conflict,
    write each batch alone, so a batch that cannot be written fails only its own request."""
    try:
        for job, report in zip(group, _write_with_retries([j.prepared for j in group]), strict=True):
            job.report = report
    except Exception as exc:  # handed to the requests that own the batches
        if len(group) == 1:
            group[0].error = exc
        else:
            for job in group:
                try:
                    job.report = _write_with_retries([job.prepared])[0]
                except Exception as alone:
                    job.error = alone
    finally:
        for job in group:
            if job.report is None and job.error is None:
                job.error = RuntimeError("the group write was interrupted")
            job.done = True


def _write_with_retries(batches: list[Prepared]) -> list[IngestReport]:
    by_source: dict[int, list[Prepared]] = {}
    for b in batches:
        by_source.setdefault(b.source_id, []).append(b)
    vault = get_vault()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        session = session_factory()()
        identities = cache_for(session)  # SQLite: identities known from earlier transactions
        committed = False
        try:
            with write_lock(session):
                _batch_lock(session, alone=attempt > OPTIMISTIC_ATTEMPTS)
                if identities is not None:
                    begin_immediate(session)  # nobody else writes until the commit: the cache holds
                    identities.begin(session)
                written: dict[int, IngestReport] = {}
                due: dict[int, datetime] = {}
                for group in by_source.values():
                    for b, report in zip(group, write(session, vault, group, identities), strict=True):
                        written[id(b)] = report
                        for cid in report.customer_ids:
                            if cid not in due or b.received_at < due[cid]:
                                due[cid] = b.received_at
                enqueue(session, due, "event")  # segments re-evaluate these customers
                session.commit()
                committed = True
                if identities is not None:
                    identities.commit()
            return [written[id(b)] for b in batches]
        except (IntegrityError, OperationalError):
            session.rollback()
            if attempt == MAX_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
        finally:
            if identities is not None and not committed:
                identities.rollback()
            session.close()
    raise AssertionError("unreachable")
