"""Traits: every write appended to history; the current value is last-write-wins by event time.

Ties on event time go to the later write (higher history id). Personal-data traits are stored encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.clock import now
from siyu.core.database import cached_statement, insert_for
from siyu.core.pii import Vault
from siyu.customers.tables import Trait, TraitChange

MAX_TRAIT_NAME = 128
HISTORY_COLUMNS = ("customer_id", "name", "value", "value_enc", "observed_at", "recorded_at", "origin")


@dataclass(frozen=True)
class TraitWrite:
    customer_id: int
    name: str
    value: Any
    observed_at: datetime
    origin: str


def record(session: Session, vault: Vault, writes: list[TraitWrite]) -> None:
    """Append `writes` to history and move current values forward where the write is newer."""
    if not writes:
        return
    kind = fastsql.dialect(session)
    recorded_at = fastsql.db_time(kind, now())
    rows: list[dict[str, Any]] = []
    for w in writes:
        secret = vault.is_pii_name(w.name)
        rows.append(
            {
                "customer_id": w.customer_id,
                "name": w.name[:MAX_TRAIT_NAME],
                "value": None if secret else w.value,
                "value_enc": vault.encrypt_json(w.value) if secret else None,
                "observed_at": w.observed_at,
            }
        )
    ids = fastsql.insert_returning_ids(
        session,
        "trait_history",
        HISTORY_COLUMNS,
        [
            (
                r["customer_id"],
                r["name"],
                fastsql.db_json(r["value"]),
                r["value_enc"],
                fastsql.db_time(kind, r["observed_at"]),
                recorded_at,
                w.origin[:64],
            )
            for r, w in zip(rows, writes, strict=True)
        ],
        json_columns=("value",),
    )
    current: dict[tuple[int, str], dict[str, Any]] = {}
    for row, hid in zip(rows, ids, strict=True):
        key: tuple[int, str] = (int(row["customer_id"]), str(row["name"]))
        candidate = {
            "customer_id": row["customer_id"],
            "name": row["name"],
            "value": row["value"],
            "value_enc": row["value_enc"],
            "observed_at": row["observed_at"],
            "history_id": hid,
        }
        best = current.get(key)
        if best is None or (candidate["observed_at"], hid) > (best["observed_at"], best["history_id"]):
            current[key] = candidate
    _upsert_current(session, [current[k] for k in sorted(current)])


def _current_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, Trait.__table__)
    col = Trait.__table__.c
    ex = stmt.excluded
    newer = or_(
        ex.observed_at > col.observed_at,
        and_(ex.observed_at == col.observed_at, ex.history_id > col.history_id),
    )
    return stmt.on_conflict_do_update(
        index_elements=[col.customer_id, col.name],
        set_={
            "value": ex.value,
            "value_enc": ex.value_enc,
            "observed_at": ex.observed_at,
            "history_id": ex.history_id,
        },
        where=newer,
    )


def _upsert_current(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(cached_statement(session, "traits.current", _current_upsert), rows)


def rebuild(session: Session, customer_id: int) -> None:
    """Recompute a customer's current traits from their history."""
    session.execute(delete(Trait).where(Trait.customer_id == customer_id))
    h = TraitChange.__table__.c
    latest: dict[str, dict[str, Any]] = {}
    for hid, name, value, value_enc, observed_at in session.execute(
        select(h.id, h.name, h.value, h.value_enc, h.observed_at).where(h.customer_id == customer_id)
    ):
        best = latest.get(name)
        if best is None or (observed_at, hid) > (best["observed_at"], best["history_id"]):
            latest[name] = {
                "customer_id": customer_id,
                "name": name,
                "value": value,
                "value_enc": value_enc,
                "observed_at": observed_at,
                "history_id": hid,
            }
    if latest:
        session.execute(insert(Trait), [latest[n] for n in sorted(latest)])


def current(session: Session, vault: Vault, customer_id: int) -> dict[str, tuple[Any, bool]]:
    """{name: (value, is_personal)} for one customer, decrypted."""
    out: dict[str, tuple[Any, bool]] = {}
    for t in session.scalars(select(Trait).where(Trait.customer_id == customer_id).order_by(Trait.name)):
        if t.value_enc is not None:
            out[t.name] = (vault.decrypt_json(t.value_enc), True)
        else:
            out[t.name] = (t.value, False)
    return out
