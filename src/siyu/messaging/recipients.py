"""Where a message goes on each channel, for a batch of customers: the WeCom external_userid, the phone
number or email (decrypted only here, at send time), or — for webhook and memory — the customer's
`user_id`, else `customer:{id}`. A customer without an address on the channel is absent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.database import chunks
from siyu.core.pii import get_vault
from siyu.customers.tables import Identity
from siyu.staff.tables import CustomerOwner, Staff

from .policy import channel_family

IDENTITY_OF = {"wecom": "wecom_external_userid", "sms": "phone", "email": "email"}


def addresses(session: Session, channel: str, customer_ids: Iterable[int]) -> dict[int, str]:
    """customer id → address on `channel` (the oldest identity of the right type wins)."""
    ids = sorted(set(customer_ids))
    kind = IDENTITY_OF.get(channel_family(channel), "user_id")
    found: dict[int, str] = {}
    vault = get_vault()
    i = Identity.__table__.c
    for part in chunks(ids, 1000):
        query = (
            select(i.customer_id, i.value, i.value_enc)
            .where(i.customer_id.in_(part), i.type == kind)
            .order_by(i.customer_id, i.first_seen_at, i.id)
        )
        for cid, value, enc in session.execute(query):
            if int(cid) in found:
                continue
            text = vault.decrypt(enc).decode() if enc is not None else value
            if text:
                found[int(cid)] = str(text)
    if kind == "user_id":
        return {cid: found.get(cid, f"customer:{cid}") for cid in ids}
    return found


def owners(session: Session, customer_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """customer id → (advisor name, WeCom userid) of the customer's owner."""
    out: dict[int, tuple[str, str]] = {}
    o, s = CustomerOwner.__table__.c, Staff.__table__.c
    for part in chunks(sorted(set(customer_ids)), 1000):
        query = (
            select(o.customer_id, s.name, s.userid)
            .join(Staff, Staff.id == o.staff_id)
            .where(o.customer_id.in_(part))
        )
        for cid, name, userid in session.execute(query):
            out[int(cid)] = (str(name), str(userid))
    return out
