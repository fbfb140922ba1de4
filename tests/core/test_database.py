"""`begin_immediate`: on SQLite the transaction holds the write lock from its first statement, so what it
reads cannot change before it commits; on PostgreSQL nothing changes."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from siyu.core.database import begin_immediate, session_factory


def test_an_immediate_transaction_holds_the_write_lock_from_the_start(db_url: str) -> None:
    session = session_factory()()
    try:
        begin_immediate(session)
        assert session.execute(text("SELECT count(*) FROM identity_epoch")).scalar_one() == 1
        if db_url.startswith("sqlite"):
            other = sqlite3.connect(db_url.split("///", 1)[1], timeout=0.05)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("UPDATE identity_epoch SET epoch = epoch + 1")
            finally:
                other.close()
        session.execute(text("UPDATE identity_epoch SET epoch = epoch + 1 WHERE id = 1"))
        session.commit()
    finally:
        session.close()
    with session_factory()() as after:  # the transaction committed normally
        begin_immediate(after)
        after.rollback()
