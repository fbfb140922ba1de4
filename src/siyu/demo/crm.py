"""Writes `relations.plan` to the database: staff, customer owners and consents, customers found through
their identities (a merged-away customer counts as its survivor); rows that exist are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from siyu.consent.tables import Consent
from siyu.core.database import chunks, insert_for
from siyu.core.pii import Vault
from siyu.customers.identity_types import lookup_key
from siyu.customers.tables import Identity
from siyu.demo.relations import Identity as IdentityPair
from siyu.demo.relations import Relations
from siyu.demo.team import STAFF
from siyu.staff.tables import CustomerOwner, Staff
from siyu.tags import service as tags

CHUNK = 500


@dataclass(frozen=True)
class CrmReport:
    staff: dict[str, int]  # WeCom userid → staff id
    owners: int  # new owner rows
    consents: int  # new consent rows
    unmatched: int  # planned entries whose identity no customer holds


def ensure_staff(session: Session, now: datetime) -> dict[str, int]:
    """The demo's staff rows (created when missing); WeCom userid → staff id."""
    table = Staff.__table__
    rows = [
        {"userid": a.userid, "name": a.name, "department": a.department, "active": True, "created_at": now}
        for a in STAFF
    ]
    stmt = insert_for(session.get_bind().dialect.name, table).on_conflict_do_nothing(
        index_elements=["userid"]
    )
    session.execute(stmt, rows)
    wanted = [a.userid for a in STAFF]
    return {
        str(u): int(i)
        for u, i in session.execute(select(Staff.userid, Staff.id).where(Staff.userid.in_(wanted)))
    }


def customer_ids(session: Session, vault: Vault, pairs: Iterable[IdentityPair]) -> dict[IdentityPair, int]:
    """Identity → the (not merged) customer holding it now; identities nobody holds are absent."""
    keys: dict[tuple[str, str], IdentityPair] = {}
    for kind, value in set(pairs):
        keys[lookup_key(vault, kind, value)] = (kind, value)
    by_type: dict[str, list[str]] = {}
    for kind, lookup in keys:
        by_type.setdefault(kind, []).append(lookup)
    found: dict[IdentityPair, int] = {}
    i = Identity.__table__.c
    for kind, lookups in sorted(by_type.items()):
        for part in chunks(sorted(lookups), CHUNK):
            query = select(i.lookup, i.customer_id).where(i.type == kind, i.lookup.in_(part))
            found.update({keys[(kind, str(lookup))]: int(cid) for lookup, cid in session.execute(query)})
    canonical = tags.resolve(session, found.values())
    return {pair: canonical[cid] for pair, cid in found.items() if cid in canonical}


def write(session: Session, vault: Vault, relations: Relations, now: datetime) -> CrmReport:
    """Staff, then owners and consents of the customers the plan names. Flushes only."""
    staff = ensure_staff(session, now)
    found = customer_ids(
        session, vault, [o.identity for o in relations.owners] + [c.identity for c in relations.consents]
    )
    owners: dict[int, tuple[datetime, int]] = {}
    for o in relations.owners:
        cid = found.get(o.identity)
        if cid is not None and (cid not in owners or owners[cid][0] < o.at):
            owners[cid] = (o.at, staff[o.advisor])
    consents: dict[tuple[int, str], tuple[datetime, str, str]] = {}
    for c in relations.consents:
        cid = found.get(c.identity)
        if cid is not None and ((cid, c.channel) not in consents or consents[(cid, c.channel)][0] < c.at):
            consents[(cid, c.channel)] = (c.at, c.status, c.origin)
    ot, ct = CustomerOwner.__table__.c, Consent.__table__.c
    have_owner = _existing(session, select(ot.customer_id), ot.customer_id, owners)
    owner_rows = [
        {"customer_id": cid, "staff_id": sid, "assigned_at": at}
        for cid, (at, sid) in sorted(owners.items())
        if (cid,) not in have_owner
    ]
    marketing = select(ct.customer_id, ct.channel).where(ct.purpose == "marketing")
    have_consent = _existing(session, marketing, ct.customer_id, {cid for cid, _ in consents})
    consent_rows = [
        {"customer_id": cid, "channel": channel, "purpose": "marketing", "status": status,
         "updated_at": at, "origin": origin}
        for (cid, channel), (at, status, origin) in sorted(consents.items())
        if (cid, channel) not in have_consent
    ]  # fmt: skip
    for model, rows in ((CustomerOwner, owner_rows), (Consent, consent_rows)):
        for part in chunks(rows, CHUNK):
            session.execute(insert(model), list(part))
    session.flush()
    planned = {o.identity for o in relations.owners} | {c.identity for c in relations.consents}
    return CrmReport(staff, len(owner_rows), len(consent_rows), len(planned - set(found)))


def _existing(session: Session, query: Select[Any], column: Any, ids: Iterable[int]) -> set[tuple[Any, ...]]:
    """Rows of `query` (restricted to customers `ids`) that exist already, as tuples."""
    out: set[tuple[Any, ...]] = set()
    for part in chunks(sorted(set(ids)), CHUNK):
        out.update(tuple(row) for row in session.execute(query.where(column.in_(part))))
    return out
