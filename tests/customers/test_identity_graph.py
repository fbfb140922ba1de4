"""Identity resolution scenarios: linking, merging, unique rules (shared devices), alias, undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.pii import get_vault
from siyu.customers import merges, search
from siyu.customers.tables import Customer, Identity, Merge
from tests.customers.identity_model import ensure_source, send, snapshot


@pytest.fixture
def ingest_one(session: Session) -> Any:
    source_id = ensure_source(session)
    counter = [0]

    def run(*messages: dict[str, Any]) -> Any:
        return send(session, source_id, list(messages), counter)

    return run


def owner(session: Session, kind: str, value: str) -> int:
    ids = search.by_identity(session, get_vault(), f"{kind}:{value}")
    assert len(ids) == 1, ids
    return merges.canonical_id(session, ids[0])


def live_customers(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Customer).where(Customer.merged_into_id.is_(None)))
    )


def test_anonymous_visitor_merges_when_identified(session: Session, ingest_one: Any) -> None:
    ingest_one({"type": "track", "anonymousId": "anon-1", "event": "Viewed"})
    ingest_one({"type": "identify", "userId": "u-1", "traits": {"phone": "13912345678"}})
    assert live_customers(session) == 2
    report = ingest_one({"type": "identify", "userId": "u-1", "anonymousId": "anon-1"})
    assert len(report.merges) == 1
    assert live_customers(session) == 1
    assert owner(session, "anonymous_id", "anon-1") == owner(session, "phone", "+86 139 1234 5678")
    record = session.get(Merge, report.merges[0])
    assert record is not None and record.actor == "ingestion" and record.reason


def test_shared_device_does_not_merge_a_family(session: Session, ingest_one: Any) -> None:
    ingest_one({"type": "identify", "userId": "dad", "anonymousId": "tablet"})
    report = ingest_one({"type": "identify", "userId": "mom", "anonymousId": "tablet"})
    assert report.merges == []
    assert live_customers(session) == 2
    assert owner(session, "user_id", "mom") != owner(session, "user_id", "dad")
    # the tablet stays with the first person it met; mom's event went to mom
    assert owner(session, "anonymous_id", "tablet") == owner(session, "user_id", "dad")


def test_one_phone_per_customer(session: Session, ingest_one: Any) -> None:
    ingest_one({"type": "identify", "userId": "u1", "traits": {"phone": "13900000001"}})
    ingest_one({"type": "identify", "userId": "u1", "traits": {"phone": "13900000002"}})
    phones = session.scalars(select(Identity).where(Identity.type == "phone")).all()
    assert len(phones) == 1  # the second phone conflicts with the unique rule and is not linked
    # the other phone's owner, if it appears alone later, is a different customer
    ingest_one({"type": "identify", "anonymousId": "x", "traits": {"phone": "13900000002"}})
    assert owner(session, "phone", "13900000002") != owner(session, "user_id", "u1")


def test_email_links_two_channels(session: Session, ingest_one: Any) -> None:
    ingest_one({"type": "identify", "userId": "tmall-1", "traits": {"email": "A@Example.com"}})
    ingest_one(
        {"type": "identify", "anonymousId": "mini-1", "traits": {"email": "a@example.COM", "unionid": "UN1"}}
    )
    assert live_customers(session) == 1
    assert owner(session, "unionid", "UN1") == owner(session, "user_id", "tmall-1")


def test_alias_merges_previous_anonymous_id(session: Session, ingest_one: Any) -> None:
    ingest_one(
        {"type": "track", "anonymousId": "anon-9", "event": "Product Viewed", "properties": {"sku": "s1"}}
    )
    ingest_one({"type": "track", "userId": "u-9", "event": "Signed Up"})
    report = ingest_one({"type": "alias", "previousId": "anon-9", "userId": "u-9"})
    assert len(report.merges) == 1
    assert owner(session, "anonymous_id", "anon-9") == owner(session, "user_id", "u-9")
    cid = owner(session, "user_id", "u-9")
    assert snapshot(session)["stats"][cid][2] == 3  # three events on the unified customer


def test_external_ids_add_custom_identity_types(session: Session, ingest_one: Any) -> None:
    ingest_one(
        {
            "type": "identify",
            "userId": "u-5",
            "context": {"externalIds": [{"id": "POS-77", "type": "pos_card", "collection": "users"}]},
        }
    )
    assert owner(session, "pos_card", "POS-77") == owner(session, "user_id", "u-5")


def test_merge_and_undo_lineage(session: Session, ingest_one: Any) -> None:
    ingest_one({"type": "identify", "userId": "p", "traits": {"plan": "gold"}})
    ingest_one({"type": "identify", "userId": "q", "traits": {"plan": "free", "city": "上海"}})
    p, q = owner(session, "user_id", "p"), owner(session, "user_id", "q")
    before = snapshot(session)
    record = merges.merge(session, p, q, reason="same person per call centre", actor="ops@brand")
    session.commit()
    assert merges.canonical_id(session, q) == p
    assert [m.id for m in merges.lineage(session, p)] == [record.id]
    with pytest.raises(Exception, match="already merged"):
        merges.merge(session, p, q, reason="again", actor="ops@brand")
    session.rollback()
    merges.undo(session, record.id, actor="ops@brand")
    session.commit()
    assert snapshot(session) == before
    with pytest.raises(Exception, match="already undone"):
        merges.undo(session, record.id, actor="ops@brand")


def test_operator_rules_make_email_unique(
    session: Session, ingest_one: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.core.settings import get_settings

    monkeypatch.setenv("SIYU_IDENTITY_RULES", '{"email": {"unique": true}}')
    get_settings.cache_clear()
    ingest_one({"type": "identify", "userId": "e1", "traits": {"email": "one@example.com"}})
    ingest_one({"type": "identify", "userId": "e1", "traits": {"email": "two@example.com"}})
    emails = session.scalars(select(Identity).where(Identity.type == "email")).all()
    assert len(emails) == 1  # with the default rules both would be linked to e1


def test_identity_rules_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from siyu.core.settings import Settings

    monkeypatch.setenv("SIYU_IDENTITY_RULES", '{"Bad Type": {"unique": true}}')
    with pytest.raises(ValueError, match="identity type"):
        Settings()
    monkeypatch.setenv("SIYU_IDENTITY_RULES", '{"email": {"uniq": true}}')
    with pytest.raises(ValueError, match="unknown keys"):
        Settings()
