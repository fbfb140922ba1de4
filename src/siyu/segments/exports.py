"""Exports of a segment's members: CSV with chosen fields (personal data in full only for roles with `pii`,
masked otherwise), and hashed lists for ad-platform audiences (私域反哺公域): SHA-256 of the E.164 phone
(`+8613912345678`) or of the lower-cased email, one hex digest per line. Streamed 1,000 members at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault, mask
from siyu.customers.identity_types import rule_for
from siyu.customers.tables import Customer, CustomerStats, Identity, Trait
from siyu.lifecycle.tables import LifecycleState
from siyu.rfm.tables import RfmScore
from siyu.segments.tables import SegmentMember
from siyu.staff.tables import CustomerOwner, Staff

CHUNK = 1000
STATS = ("orders_count", "total_spent", "first_order_at", "last_order_at", "first_seen_at", "last_seen_at")
PLAIN = ("id", "created_at", "entered_at", "rfm_tier", "lifecycle_stage", "owner", *STATS)
DEFAULT_FIELDS = ("id", "entered_at", "user_id", "phone", "email", "orders_count", "total_spent", "rfm_tier")
HASHABLE = ("phone", "email")


def check_fields(fields: list[str]) -> list[str]:
    """Allowed: the plain fields above, an identity type (`phone`, `user_id`, …) or `trait:<name>`."""
    if not fields or len(fields) > 50:
        raise ValidationFailed("fields: give 1-50 comma-separated fields", field="fields")
    for f in fields:
        if "\x00" in f:
            raise ValidationFailed("fields: text may not contain the NUL character", field="fields")
        ok = f in PLAIN or (f.startswith("trait:") and 1 < len(f) <= 134) or f.replace("_", "").isalnum()
        if not ok:
            raise ValidationFailed(f"fields: unknown field {f!r}", field="fields")
    return fields


def _chunks(session: Session, segment_id: int) -> Iterator[list[tuple[int, Any]]]:
    m = SegmentMember.__table__.c
    after = 0
    while True:
        query = (
            select(m.customer_id, m.entered_at)
            .where(m.segment_id == segment_id, m.customer_id > after)
            .order_by(m.customer_id)
            .limit(CHUNK)
        )
        rows = [(int(c), e) for c, e in session.execute(query)]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _safe(value: Any) -> Any:
    """Spreadsheets run cells starting with = + - @ as formulas: quote them."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value[1:2].isdecimal():
        return "'" + value
    return value


def _identities(
    session: Session, vault: Vault, ids: list[int], kinds: list[str], sees_pii: bool
) -> dict[tuple[int, str], str]:
    out: dict[tuple[int, str], str] = {}
    if not kinds:
        return out
    i = Identity.__table__.c
    query = (
        select(i.customer_id, i.type, i.value, i.value_enc)
        .where(i.customer_id.in_(ids), i.type.in_(kinds))
        .order_by(i.id)
    )
    for cid, kind, value, secret in session.execute(query):
        if secret is not None:
            plain = vault.decrypt(secret).decode()
            value = plain if sees_pii else mask(kind, plain)
        key = (int(cid), str(kind))
        out[key] = f"{out[key]};{value}" if key in out else str(value)
    return out


def _traits(
    session: Session, vault: Vault, ids: list[int], names: list[str], sees_pii: bool
) -> dict[tuple[int, str], Any]:
    out: dict[tuple[int, str], Any] = {}
    if not names:
        return out
    t = Trait.__table__.c
    for cid, name, value, secret in session.execute(
        select(t.customer_id, t.name, t.value, t.value_enc).where(t.customer_id.in_(ids), t.name.in_(names))
    ):
        if secret is not None:
            plain = vault.decrypt_json(secret)
            value = plain if sees_pii else (mask("text", plain) if isinstance(plain, str) else "***")
        out[(int(cid), str(name))] = value
    return out


def _plain(session: Session, ids: list[int], currency: str) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {cid: {} for cid in ids}
    for c in session.execute(select(Customer.id, Customer.created_at).where(Customer.id.in_(ids))):
        rows[c.id]["created_at"] = c.created_at
    for s in session.scalars(select(CustomerStats).where(CustomerStats.customer_id.in_(ids))):
        rows[s.customer_id].update({f: getattr(s, f) for f in STATS if f != "total_spent"})
        rows[s.customer_id]["total_spent"] = str(from_minor(s.total_spent_minor or 0, s.currency or currency))
    for cid, tier in session.execute(
        select(RfmScore.customer_id, RfmScore.tier).where(RfmScore.customer_id.in_(ids))
    ):
        rows[cid]["rfm_tier"] = tier
    for cid, stage in session.execute(
        select(LifecycleState.customer_id, LifecycleState.stage).where(LifecycleState.customer_id.in_(ids))
    ):
        rows[cid]["lifecycle_stage"] = stage
    owners = select(CustomerOwner.customer_id, Staff.userid).join(Staff, Staff.id == CustomerOwner.staff_id)
    for cid, userid in session.execute(owners.where(CustomerOwner.customer_id.in_(ids))):
        rows[cid]["owner"] = userid
    return rows


def csv_chunks(
    session: Session, vault: Vault, segment_id: int, fields: list[str], *, sees_pii: bool, currency: str
) -> Iterator[str]:
    """The CSV, header first, one string per 1,000 members."""
    kinds = [f for f in fields if f not in PLAIN and not f.startswith("trait:")]
    names = [f[6:] for f in fields if f.startswith("trait:")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    for rows in _chunks(session, segment_id):
        ids = [cid for cid, _e in rows]
        plain = _plain(session, ids, currency)
        found = _identities(session, vault, ids, kinds, sees_pii)
        traits = _traits(session, vault, ids, names, sees_pii)
        for cid, entered in rows:
            values = {"id": cid, "entered_at": entered, **plain[cid]}
            line = []
            for f in fields:
                if f.startswith("trait:"):
                    value = traits.get((cid, f[6:]))
                elif f in PLAIN:
                    value = values.get(f)
                else:
                    value = found.get((cid, f))
                line.append(
                    ""
                    if value is None
                    else _safe(value.isoformat() if hasattr(value, "isoformat") else value)
                )
            writer.writerow(line)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.getvalue():
        yield out.getvalue()


def hashed_chunks(session: Session, vault: Vault, segment_id: int, kind: str) -> Iterator[str]:
    """SHA-256 hex of each member's normalised phone (E.164) or email, one per line."""
    if kind not in HASHABLE or not rule_for(kind).pii:
        raise ValidationFailed(f"hashed: one of {', '.join(HASHABLE)}", field="hashed")
    i = Identity.__table__.c
    for rows in _chunks(session, segment_id):
        ids = [cid for cid, _e in rows]
        secrets = session.scalars(
            select(i.value_enc)
            .where(i.customer_id.in_(ids), i.type == kind, i.value_enc.is_not(None))
            .order_by(i.id)
        )
        lines = [
            hashlib.sha256(vault.decrypt(s).decode().strip().lower().encode()).hexdigest() for s in secrets
        ]
        if lines:
            yield "\n".join(lines) + "\n"
