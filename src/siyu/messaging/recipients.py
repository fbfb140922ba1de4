"""Where a message goes on each channel, for a batch of customers: the WeCom external_userid, the phone
number or email (decrypted only here, at send time), or — for webhook and memory — the customer's
`user_id`, else `customer:{id}`. A customer without an address on the channel is absent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from siyu.core.pii import get_vault

from .policy import channel_family
from .sqlids import ids_value, text_in

IDENTITY_OF = {"wecom": "wecom_external_userid", "sms": "phone", "email": "email"}


def addresses(session: Session, channel: str, customer_ids: Iterable[int]) -> dict[int, str]:
    """customer id → address on `channel` (the oldest identity of the right type wins)."""
    ids = sorted(set(customer_ids))
    kind = IDENTITY_OF.get(channel_family(channel), "user_id")
    found: dict[int, str] = {}
    vault = get_vault()
    sql = ("SELECT customer_id, value, value_enc FROM identities WHERE type = :kind AND {in}"
           " ORDER BY customer_id, first_seen_at, id")  # fmt: skip
    for cid, value, enc in session.execute(
        text_in(session, sql, "customer_id"), {"kind": kind, "ids": ids_value(session, ids)}
    ):
        if int(cid) in found:
            continue
        plain = vault.decrypt(enc).decode() if enc is not None else value
        if plain:
            found[int(cid)] = str(plain)
    if kind == "user_id":
        return {cid: found.get(cid, f"customer:{cid}") for cid in ids}
    return found


def owners(session: Session, customer_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """customer id → (advisor name, WeCom userid) of the customer's owner."""
    out: dict[int, tuple[str, str]] = {}
    sql = ("SELECT o.customer_id, s.name, s.userid FROM customer_owners o"
           " JOIN staff s ON s.id = o.staff_id WHERE {in}")  # fmt: skip
    for cid, name, userid in session.execute(
        text_in(session, sql, "o.customer_id"), {"ids": ids_value(session, customer_ids)}
    ):
        out[int(cid)] = (str(name), str(userid))
    return out
