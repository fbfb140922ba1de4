"""Current traits: last write wins by event time (ties: the later write), whether or not the value changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.pii import get_vault
from siyu.customers import traits
from siyu.customers.tables import Customer, Trait, TraitChange

T1 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=2)
BETWEEN = T1 + timedelta(hours=1)


def _customer(session: Session) -> int:
    c = Customer(created_at=T1)
    session.add(c)
    session.flush()
    return c.id


def _write(session: Session, cid: int, name: str, value: object, when: datetime) -> None:
    traits.record(session, get_vault(), [traits.TraitWrite(cid, name, value, when, "test")])


def _current(session: Session, cid: int, name: str) -> Trait:
    return session.scalars(select(Trait).where(Trait.customer_id == cid, Trait.name == name)).one()


def test_a_newer_write_of_the_same_value_moves_the_trait_forward(session: Session) -> None:
    cid = _customer(session)
    _write(session, cid, "tier", "gold", T1)
    first = _current(session, cid, "tier").history_id
    _write(session, cid, "tier", "gold", T2)  # same value, later event
    session.expire_all()
    moved = _current(session, cid, "tier")
    assert (moved.value, moved.observed_at, moved.history_id > first) == ("gold", T2, True)
    _write(session, cid, "tier", "silver", BETWEEN)  # older than the second write: it loses
    session.expire_all()
    assert _current(session, cid, "tier").value == "gold"
    assert traits.current(session, get_vault(), cid)["tier"] == ("gold", False)


def test_a_tie_on_event_time_goes_to_the_later_write_of_the_same_value(session: Session) -> None:
    cid = _customer(session)
    _write(session, cid, "tier", "gold", T1)
    _write(session, cid, "tier", "gold", T1)
    session.expire_all()
    ids = sorted(session.scalars(select(TraitChange.id).where(TraitChange.customer_id == cid)))
    assert _current(session, cid, "tier").history_id == ids[-1]


def test_personal_traits_move_forward_and_keep_only_ciphertext(session: Session) -> None:
    cid = _customer(session)
    _write(session, cid, "phone", "13912345678", T1)
    before = _current(session, cid, "phone").value_enc
    _write(session, cid, "phone", "13912345678", T2)
    session.expire_all()
    now = _current(session, cid, "phone")
    assert now.value is None and now.value_enc is not None and now.value_enc != before
    assert now.observed_at == T2
    _write(session, cid, "phone", "13800000000", BETWEEN)  # older: it loses
    session.expire_all()
    assert traits.current(session, get_vault(), cid)["phone"] == ("13912345678", True)


def test_numbers_and_nulls_compare_as_stored(session: Session) -> None:
    cid = _customer(session)
    _write(session, cid, "points", 120, T1)
    _write(session, cid, "points", 120, T2)
    _write(session, cid, "points", 90, BETWEEN)
    _write(session, cid, "nickname", None, T1)
    _write(session, cid, "nickname", None, T2)
    _write(session, cid, "nickname", "Lin", BETWEEN)
    session.expire_all()
    assert _current(session, cid, "points").value == 120
    nickname = _current(session, cid, "nickname")
    assert (nickname.value, nickname.observed_at) == (None, T2)
