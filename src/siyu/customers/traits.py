"""Traits: every write appended to history; the current value is last-write-wins by event time.

Ties on event time go to the later write (higher history id). Personal-data traits are stored encrypted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.clock import now
from siyu.core.database import cached_statement
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
    when = fastsql.time_formatter(kind)  # an identify's traits share its event time
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
                when(r["observed_at"]),
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
    _upsert_current(session, [current[k] for k in sorted(current)], when)


CURRENT_COLUMNS = ("customer_id", "name", "value", "value_enc", "observed_at", "history_id")


_NEWER = (
    "(excluded.observed_at > traits.observed_at"
    " OR (excluded.observed_at = traits.observed_at AND excluded.history_id > traits.history_id))"
)


def _current_upsert_sql(kind: str) -> str:
    """Move the current value forward where the write is newer (later event time; on a tie, the later
    history row). Plain SQL: per-row bind processing cost more than the upsert.

    On SQLite this statement only handles new rows and changed values; `_same_value_sql` moves the rest
    forward without assigning `value`: SQLite rewrites the entry of `ix_traits_name_value` for every row
    whose UPDATE assigns `value`, even to the value it had (every personal-data trait, whose `value` is
    always null, and every repeated value)."""
    insert = fastsql.insert_sql(kind, "traits", CURRENT_COLUMNS, json_columns=("value",))
    changed = " AND traits.value IS NOT excluded.value" if kind == "sqlite" else ""
    return (
        f"{insert} ON CONFLICT (customer_id, name) DO UPDATE SET value = excluded.value,"
        " value_enc = excluded.value_enc, observed_at = excluded.observed_at,"
        f" history_id = excluded.history_id WHERE {_NEWER}{changed}"
    )


def _same_value_sql(_kind: str) -> str:
    """SQLite: a newer write of the value a trait already has (parameters in `CURRENT_COLUMNS` order:
    ?1 customer_id, ?2 name, ?3 value, ?4 value_enc, ?5 observed_at, ?6 history_id)."""
    return (
        "UPDATE traits SET value_enc = ?4, observed_at = ?5, history_id = ?6"
        " WHERE customer_id = ?1 AND name = ?2 AND value IS ?3"
        " AND (?5 > observed_at OR (?5 = observed_at AND ?6 > history_id))"
    )


def _upsert_current(
    session: Session, rows: list[dict[str, Any]], when: Callable[[datetime | None], Any]
) -> None:
    if not rows:
        return
    values = [
        (
            r["customer_id"],
            r["name"],
            fastsql.db_json(r["value"]),  # None is stored as JSON null, as the ORM column does
            r["value_enc"],
            when(r["observed_at"]),
            r["history_id"],
        )
        for r in rows
    ]
    fastsql.run_many(session, cached_statement(session, "traits.current.sql", _current_upsert_sql), values)
    if fastsql.dialect(session) == "sqlite":
        fastsql.run_many(session, cached_statement(session, "traits.same.sql", _same_value_sql), values)


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
