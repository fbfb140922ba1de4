"""The ingestion writer of `siyu serve --workers N` on SQLite: server processes hand prepared batches to
one writer over a Unix socket and get the same reports (and errors) a single process gives."""

from __future__ import annotations

import pickle
import threading
from dataclasses import replace
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


def test_the_writer_counts_what_it_wrote(db_url: str, socket_path: str) -> None:
    with unit_of_work() as s:
        source_id = create_source(s, "counted")[0].id
    server = writer.WriterServer(socket_path).start()
    try:
        for thread in (1, 2, 3):
            assert writer.submit(socket_path, _prepared(source_id, _batch(thread, 4))).accepted == 4
    finally:
        server.stop()
    stats = server.stats
    assert (stats.groups, stats.batches, stats.messages) == (3, 3, 12)  # one at a time: a group each
    assert stats.busy_s > 0
    assert "3 group commits, 3 batches, 12 messages (4 per group)" in stats.summary()


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


def _mixed(prefix: str) -> list[dict[str, Any]]:
    when = T0.isoformat()
    visitor = f"{prefix}-a1"
    return [
        {
            "type": "identify",
            "messageId": f"{prefix}-1",
            "anonymousId": visitor,
            "traits": {"tier": "gold", "phone": "13912340001"},
            "context": {"page": {"path": "/join"}},
            "timestamp": when,
        },
        {
            "type": "track",
            "messageId": f"{prefix}-2",
            "anonymousId": visitor,
            "event": "Order Completed",
            "properties": {
                "order_id": f"{prefix}-o1",
                "total": 99.5,
                "currency": "CNY",
                "products": [{"product_id": "p1", "sku": "sku-1", "price": 99.5, "quantity": 1}],
            },
            "timestamp": when,
        },
        {
            "type": "track",
            "messageId": f"{prefix}-3",
            "anonymousId": visitor,
            "event": "Article Read",
            "properties": {"sku": "sku-1"},
            "context": {"page": {"path": "/p/1"}},
            "timestamp": when,
        },
        {"type": "alias", "messageId": f"{prefix}-4", "userId": f"{prefix}-u1", "previousId": visitor},
    ]


def test_batches_cross_the_socket_slimmed_and_lose_nothing_the_write_stores(
    db_url: str, socket_path: str
) -> None:
    from siyu.commerce.tables import Order

    with unit_of_work() as s:
        source_id = create_source(s, "slim")[0].id
    prepared = _prepared(source_id, _mixed("s"))
    slim = Prepared.from_wire(prepared.to_wire())
    assert slim.slim and not prepared.slim
    assert [p.msg.context for p in slim.parsed] == [{}, {}, {}, {}]
    assert slim.parsed[0].msg.traits["tier"] == "gold"  # identify traits stay
    assert slim.parsed[1].msg.properties["order_id"] == "s-o1"  # e-commerce properties stay
    assert slim.parsed[2].msg.properties == {}  # the event row already holds them
    assert [p.row for p in slim.parsed] == [p.row for p in prepared.parsed]
    assert len(pickle.dumps(prepared.to_wire())) < len(pickle.dumps(prepared))

    server = writer.WriterServer(socket_path).start()
    try:
        report = writer.submit(socket_path, prepared)
    finally:
        server.stop()
    assert (report.accepted, report.errors) == (4, [])

    with unit_of_work() as s:
        events = {e.message_id: e for e in s.scalars(select(Event).where(Event.source_id == source_id)).all()}
        assert events["s-1"].context["page"]["path"] == "/join"
        assert events["s-3"].context["page"]["path"] == "/p/1"
        assert events["s-3"].properties["sku"] == "sku-1"
        assert events["s-2"].properties["order_id"] == "s-o1"
        customer = events["s-1"].customer_id
        assert (
            s.scalar(select(Trait.value).where(Trait.customer_id == customer, Trait.name == "tier")) == "gold"
        )
        order = s.scalars(select(Order).where(Order.external_id == "s-o1")).one()
        assert (order.customer_id, order.total_minor) == (customer, 9950)
        stats = s.get(CustomerStats, customer)
        assert stats is not None and (stats.orders_count, stats.total_spent_minor) == (1, 9950)
        keys = select(Identity.type, Identity.value).where(Identity.customer_id == customer)
        found = sorted((kind, value) for kind, value in s.execute(keys) if kind != "phone")
        assert found == [("anonymous_id", "s-a1"), ("user_id", "s-u1")]  # a phone's value is encrypted


def test_the_wire_form_rebuilds_the_slim_batch_exactly() -> None:
    raws: list[Any] = [*_mixed("w"), {"type": "track", "messageId": "w-bad"}, "not a message"]
    prepared = _prepared(1, raws)
    assert len(prepared.errors) == 2 and any(p.commerce is not None for p in prepared.parsed)
    wire = prepared.to_wire()
    back = Prepared.from_wire(pickle.loads(pickle.dumps(wire)))
    assert (back.source_id, back.received_at, back.kind, back.errors) == (
        prepared.source_id,
        prepared.received_at,
        prepared.kind,
        prepared.errors,
    )
    assert back.slim and len(back.parsed) == len(prepared.parsed) == 4
    for sent, got in zip(prepared.parsed, back.parsed, strict=True):
        kept = sent.msg.properties if sent.msg.type == "identify" or sent.commerce else {}
        assert got.msg == replace(sent.msg, context={}, extra={}, properties=kept)
        assert (got.index, got.keys, got.commerce, got.row) == (
            sent.index,
            sent.keys,
            sent.commerce,
            sent.row,
        )
        assert all(type(k) is type(s) for k, s in zip(got.keys, sent.keys, strict=True))
    assert back.parsed[1].commerce is not None and back.parsed[1].commerce.lines[0].sku == "sku-1"
    assert back.parsed[3].msg.previous_id == "w-a1"
    assert Prepared.from_wire(back.to_wire()) == back  # slim already: the same batch again
    for wrong in (prepared, ("prepared/0", *wire[1:]), wire[:5], None):
        with pytest.raises(ValueError, match="wire format"):
            Prepared.from_wire(wrong)


def test_a_frame_that_is_not_a_batch_is_answered_with_an_error(db_url: str, socket_path: str) -> None:
    import socket

    with unit_of_work() as s:
        source_id = create_source(s, "wrong-frame")[0].id
    server = writer.WriterServer(socket_path).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(socket_path)
            writer._send(sock, {"not": "a batch"})
            status, error = writer._receive(sock)
            assert status == "error" and "wire format" in str(error)
        assert writer.submit(socket_path, _prepared(source_id, _batch(3, 2))).accepted == 2  # still serving
    finally:
        server.stop()


def test_a_slimmed_batch_is_not_written_to_another_database_kind(db_url: str) -> None:

    from siyu.events.service import write_group

    with unit_of_work() as s:
        source_id = create_source(s, "other-kind")[0].id
    other = "postgresql" if db_url.startswith("sqlite") else "sqlite"
    slim = replace(Prepared.from_wire(_prepared(source_id, _mixed("k")).to_wire()), kind=other)
    (result,) = write_group([slim])
    assert isinstance(result, ValueError) and "cannot be written" in str(result)
    full = replace(_prepared(source_id, _mixed("k")), kind=other)  # rows are built again instead
    (written,) = write_group([full])
    assert not isinstance(written, BaseException) and written.accepted == 4
