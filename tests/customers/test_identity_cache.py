"""The SQLite writer's identity cache: it saves lookups, and never attributes an event to a customer that
no longer holds the identity (merges and undos by anyone, rolled-back transactions, merges in ingestion)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from siyu.auth.service import create_source
from siyu.core.database import session_factory, unit_of_work
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers import merges
from siyu.customers.identity_cache import IdentityCache, cache_for
from siyu.customers.tables import Identity
from siyu.events.ingest import Prepared, prepare
from siyu.events.service import write_group
from siyu.events.tables import Event

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
# the cache is SQLite's; on PostgreSQL the first test checks there is none
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _track(mid: str, user: str) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": mid,
        "userId": user,
        "event": "Visited",
        "timestamp": T0.isoformat(),
    }


def _prepared(source_id: int, raws: list[dict[str, Any]]) -> Prepared:
    return prepare(get_settings(), get_vault(), source_id=source_id, raws=raws, received_at=T0)


def _write(source_id: int, raws: list[dict[str, Any]]) -> Any:
    (result,) = write_group([_prepared(source_id, raws)])
    return result


def _cache() -> IdentityCache:
    with session_factory()() as session:
        cache = cache_for(session)
    assert cache is not None
    return cache


def _customer_of(message_id: str) -> int:
    with unit_of_work() as s:
        return int(s.scalar(select(Event.customer_id).where(Event.message_id == message_id)))


def _owner(kind: str, lookup: str) -> int:
    with unit_of_work() as s:
        return int(
            s.scalar(select(Identity.customer_id).where(Identity.type == kind, Identity.lookup == lookup))
        )


def _epoch() -> int:
    with unit_of_work() as s:
        return int(s.execute(text("SELECT epoch FROM identity_epoch WHERE id = 1")).scalar_one())


@pytest.fixture
def source_id(db_url: str) -> int:
    with unit_of_work() as s:
        return create_source(s, "cache")[0].id


def test_the_epoch_moves_when_an_identity_changes_owner_or_goes(db_url: str, source_id: int) -> None:
    if not db_url.startswith("sqlite"):  # PostgreSQL keeps the table, without triggers: nobody caches
        assert cache_for(session_factory()()) is None
        with unit_of_work() as s:
            assert s.execute(text("SELECT count(*) FROM identity_epoch")).scalar_one() == 1
        return
    assert _write(source_id, [_track("e-1", "u1"), _track("e-2", "u2")]).accepted == 2
    start = _epoch()
    assert _write(source_id, [_track("e-3", "u3")]).accepted == 1  # a new identity: no change
    assert _epoch() == start
    with unit_of_work() as s:
        s.execute(text("UPDATE identities SET value_enc = 'x' WHERE lookup = 'u1'"))  # not its owner
    assert _epoch() == start
    with unit_of_work() as s:
        merges.merge(s, _owner("user_id", "u1"), _owner("user_id", "u2"), reason="test", actor="test")
    assert _epoch() == start + 1  # one identity moved
    with unit_of_work() as s:
        s.execute(text("DELETE FROM identities WHERE lookup = 'u3'"))
    assert _epoch() == start + 2


@SQLITE_ONLY
def test_returning_customers_are_found_without_a_lookup(db_url: str, source_id: int) -> None:
    assert _write(source_id, [_track(f"a-{i}", f"u{i}") for i in range(5)]).accepted == 5
    cache = _cache()
    assert len(cache.owners) == 5 and cache.hits == 0
    assert _write(source_id, [_track(f"b-{i}", f"u{i}") for i in range(5)]).accepted == 5
    assert cache.hits == 5
    for i in range(5):
        assert _customer_of(f"b-{i}") == _customer_of(f"a-{i}") == _owner("user_id", f"u{i}")


@SQLITE_ONLY
def test_a_merge_by_someone_else_empties_the_cache(db_url: str, source_id: int) -> None:
    assert _write(source_id, [_track("m-1", "ua"), _track("m-2", "ub")]).accepted == 2
    a, b = _owner("user_id", "ua"), _owner("user_id", "ub")
    cache = _cache()
    assert cache.owners[("user_id", "ub")] == b
    with unit_of_work() as s:  # as the API or another process would
        record = merges.merge(s, a, b, reason="same person", actor="test")
    assert _write(source_id, [_track("m-3", "ub")]).accepted == 1
    assert _customer_of("m-3") == a  # the survivor, not the merged customer the cache knew
    assert cache.resets == 1
    with unit_of_work() as s:
        merges.undo(s, record.id, actor="test")
    assert _write(source_id, [_track("m-4", "ub")]).accepted == 1
    assert _customer_of("m-4") == b  # and back after the undo
    assert cache.resets == 2


@SQLITE_ONLY
def test_a_rolled_back_transaction_teaches_the_cache_nothing(db_url: str, source_id: int) -> None:
    assert _write(source_id, [_track("r-1", "known")]).accepted == 1
    cache = _cache()
    before = dict(cache.owners)
    # no source 999999: identities are created, then the events' foreign key fails and all rolls back
    failed = _write(999_999, [_track("r-2", "fresh"), _track("r-3", "known")])
    assert isinstance(failed, Exception)
    assert cache.owners == before and ("user_id", "fresh") not in cache.owners
    assert _write(source_id, [_track("r-4", "fresh")]).accepted == 1
    assert _customer_of("r-4") == _owner("user_id", "fresh")


@SQLITE_ONLY
def test_a_merge_in_ingestion_empties_the_cache_after_its_commit(db_url: str, source_id: int) -> None:
    visitor = {"type": "track", "messageId": "g-1", "anonymousId": "anon-1", "event": "Visited"}
    assert (
        _write(source_id, [{**visitor, "timestamp": T0.isoformat()}, _track("g-2", "member-1")]).accepted == 2
    )
    cache = _cache()
    assert len(cache.owners) == 2
    alias = {"type": "alias", "messageId": "g-3", "userId": "member-1", "previousId": "anon-1"}
    report = _write(source_id, [{**alias, "timestamp": T0.isoformat()}])
    assert report.accepted == 1 and len(report.merges) == 1  # two stored customers became one
    assert cache.owners == {} and cache.epoch is None
    assert _write(source_id, [{**visitor, "messageId": "g-4", "timestamp": T0.isoformat()}]).accepted == 1
    assert _customer_of("g-4") == _owner("user_id", "member-1") == _owner("anonymous_id", "anon-1")


def test_the_cache_keeps_the_newest_when_full() -> None:
    cache = IdentityCache(limit=10)
    cache.learn((("user_id", f"u{i}"), i) for i in range(12))
    cache.commit()
    assert list(cache.owners) == [("user_id", f"u{i}") for i in range(3, 12)]  # 90% of the limit
    assert cache.known([("user_id", "u5"), ("user_id", "u0")]) == {("user_id", "u5"): 5}
    assert (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(ValueError, match="at least one"):
        IdentityCache(limit=0)


@SQLITE_ONLY
def test_the_cache_can_be_turned_off(db_url: str, monkeypatch: pytest.MonkeyPatch, source_id: int) -> None:
    from siyu.core.database import dispose_engines

    monkeypatch.setenv("SIYU_SQLITE_IDENTITY_CACHE_ENTRIES", "0")
    get_settings.cache_clear()
    dispose_engines()  # a new engine: its cache is made with the new setting
    with session_factory()() as session:
        assert cache_for(session) is None
    assert _write(source_id, [_track("o-1", "u1"), _track("o-2", "u1")]).accepted == 2
    assert _customer_of("o-1") == _customer_of("o-2")
