"""The ingestion writer of `siyu serve --workers N` on SQLite: server processes hand prepared batches to
one writer over a Unix socket and get the same reports (and errors) a single process gives."""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.auth.service import create_source
from siyu.core.database import unit_of_work
from siyu.core.errors import Conflict, ValidationFailed
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers.tables import CustomerStats, Identity, Trait
from siyu.events import writer
from siyu.events.ingest import Prepared, prepare
from siyu.events.tables import Event

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _prepared(source_id: int, raws: list[dict[str, Any]]) -> Prepared:
    return prepare(get_settings(), get_vault(), source_id=source_id, raws=raws, received_at=T0)


def _batch(thread: int, n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        user = f"w{thread}-u{i % 5}"
        if i % 5 == 0:
            rows.append(
                {
                    "type": "identify",
                    "messageId": f"w{thread}-{i}",
                    "userId": user,
                    "traits": {"tier": f"t{i}", "phone": f"1390000{thread:02d}{i % 5:02d}"},
                    "timestamp": T0.isoformat(),
                }
            )
        else:
            rows.append(
                {
                    "type": "track",
                    "messageId": f"w{thread}-{i}",
                    "userId": user,
                    "event": "Product Viewed",
                    "timestamp": T0.isoformat(),
                }
            )
    return rows


@pytest.fixture
def socket_path() -> Any:
    # a short directory: Unix socket paths are limited to about 100 bytes
    import tempfile

    with tempfile.TemporaryDirectory(prefix="siyu-w-") as d:
        yield str(Path(d) / "ingest.sock")


def test_batches_from_several_threads_are_written_once_with_their_own_reports(
    db_url: str, socket_path: str
) -> None:
    with unit_of_work() as s:
        source_id = create_source(s, "fronts")[0].id
    server = writer.WriterServer(socket_path).start()
    try:
        reports: dict[int, Any] = {}

        def front(thread: int) -> None:
            reports[thread] = writer.submit(socket_path, _prepared(source_id, _batch(thread, 20)))

        threads = [threading.Thread(target=front, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(reports) == [0, 1, 2, 3]
        assert all((r.accepted, r.duplicates, r.errors) == (20, 0, []) for r in reports.values())
        assert all(len(r.customer_ids) == 5 for r in reports.values())

        # the same batch again, with one invalid message: duplicates and the error come back
        again = [*_batch(0, 20), {"type": "track", "messageId": "bad", "userId": "w0-u0"}]
        report = writer.submit(socket_path, _prepared(source_id, again))
        assert (report.accepted, report.duplicates) == (0, 20)
        assert [(e.index, e.field) for e in report.errors] == [(20, "event")]
    finally:
        server.stop()

    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.source_id == source_id)) == 80
        assert s.scalar(select(func.count()).select_from(CustomerStats)) == 20
        assert s.scalar(select(func.sum(CustomerStats.events_count))) == 80
        phones = s.scalar(select(func.count()).select_from(Identity).where(Identity.type == "phone"))
        assert phones == 4  # each thread's user u0 identifies with one phone
        tiers = s.scalars(select(Trait.value).where(Trait.name == "tier")).all()
        assert sorted(tiers) == ["t15"] * 4  # the last identify of each of them wins


def test_a_failed_write_reaches_the_front_as_an_error(db_url: str, socket_path: str) -> None:
    server = writer.WriterServer(socket_path).start()
    try:
        # no source 999999: the events' foreign key fails on every attempt
        with pytest.raises(Exception) as caught:
            writer.submit(socket_path, _prepared(999_999, _batch(7, 3)))
        assert "FOREIGN KEY" in str(caught.value).upper() or "foreign key" in str(caught.value)
        # the connection still works afterwards
        with unit_of_work() as s:
            source_id = create_source(s, "after")[0].id
        assert writer.submit(socket_path, _prepared(source_id, _batch(8, 3))).accepted == 3
    finally:
        server.stop()


def test_an_unreachable_writer_is_a_503_that_can_be_retried(db_url: str, socket_path: str) -> None:
    with unit_of_work() as s:
        source_id = create_source(s, "gone")[0].id
    with pytest.raises(writer.WriterUnavailable) as caught:
        writer.submit(socket_path, _prepared(source_id, _batch(1, 2)))
    assert caught.value.status_code == 503
    server = writer.WriterServer(socket_path).start()  # back: the next call connects again
    try:
        assert writer.submit(socket_path, _prepared(source_id, _batch(1, 2))).accepted == 2
    finally:
        server.stop()
    with pytest.raises(writer.WriterUnavailable):
        writer.submit(socket_path, _prepared(source_id, _batch(2, 2)))


def test_domain_errors_cross_the_socket_with_their_field() -> None:
    for exc in (ValidationFailed("userId: too long", field="userId"), Conflict("no", field=None)):
        back = pickle.loads(pickle.dumps(exc))
        assert (type(back), back.message, back.field) == (type(exc), exc.message, exc.field)
