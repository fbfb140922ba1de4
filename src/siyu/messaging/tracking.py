"""The closed loop's edge: tracked short links (`/t/{code}`), the email open pixel (`/o/{code}.gif`),
signed unsubscribe links (`/u/{token}`), and delivery/reply receipts — each recorded as a timeline event
that names the message (`message_id` = its key), channel, journey, node and arm.

Codes are keyed hashes (BLAKE2b MACs) of the message key (and URL) with `secret_key`: the same message
renders the same links on a retry, and nobody can guess another message's code or forge an unsubscribe
token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.consent.tables import Consent
from siyu.core.database import insert_for
from siyu.core.errors import NotFound, ValidationFailed
from siyu.core.settings import get_settings
from siyu.events.system import SystemEvent, record

from .policy import channel_family
from .tables import OutboxMessage, TrackedLink

CLICKED, OPENED, UNSUBSCRIBED = "Message Clicked", "Message Opened", "Unsubscribed"
OUTCOMES = {
    "delivered": "Message Delivered", "failed": "Message Failed", "bounced": "Message Bounced",
    "opened": OPENED, "clicked": CLICKED, "replied": "Message Replied",
}  # fmt: skip
URL = re.compile(r"https?://[^\s<>\"'()（）【】]+")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1×1 transparent GIF


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _mac(*parts: str, size: int) -> str:
    """Keyed BLAKE2b of the parts (a MAC in one call, cheap enough to run for every message), as hex."""
    key = _key(get_settings().secret_key)
    return hashlib.blake2b("\x1f".join(parts).encode(), key=key, digest_size=16).hexdigest()[:size]


def link_code(message_key: str, url: str) -> str:
    return _mac("link", message_key, url, size=16)


def open_code(message_key: str) -> str:
    return _mac("open", message_key, size=20)


def unsubscribe_token(customer_id: int, channel: str, code: str) -> str:
    family = channel_family(channel)
    return f"{customer_id}.{family}.{code}.{_mac('unsub', str(customer_id), family, code, size=24)}"


def read_token(token: str) -> tuple[int, str, str]:
    """(customer id, channel family, open code) of a valid token; ValidationFailed otherwise."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[0].isdecimal():
        raise ValidationFailed("not an unsubscribe link", field="token")
    cid, family, code, sig = parts
    if not hmac.compare_digest(sig, _mac("unsub", cid, family, code, size=24)):
        raise ValidationFailed("this unsubscribe link is not valid", field="token")
    return int(cid), family, code


def base_url() -> str:
    return get_settings().public_base_url.rstrip("/")


def rewrite_links(text: str, message_key: str, remember: Callable[[str, str], None]) -> str:
    """Replace every http(s) URL with its tracked short link; `remember(code, url)` stores each."""
    base = base_url()

    def swap(match: re.Match[str]) -> str:
        url = match.group(0)
        if url.startswith(base + "/"):
            return url  # already ours (unsubscribe, pixel, another tracked link)
        code = link_code(message_key, url)
        remember(code, url)
        return f"{base}/t/{code}"

    return URL.sub(swap, text)


def save_links(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        kind = session.get_bind().dialect.name
        stmt = insert_for(kind, TrackedLink.__table__).on_conflict_do_nothing(index_elements=["code"])
        session.execute(stmt, sorted(rows, key=lambda r: str(r["code"])))


class MessageLike(Protocol):
    key: str
    channel: str
    journey_id: int | None
    version: int | None
    node_id: str | None
    arm: str | None
    template_id: str
    purpose: str


def message_properties(row: MessageLike) -> dict[str, Any]:
    """What every message event says about its message (the contract with analytics)."""
    return {
        "message_id": row.key, "message_key": row.key, "channel": row.channel,
        "journey_id": None if row.journey_id is None else str(row.journey_id), "version": row.version,
        "node_id": row.node_id, "arm": row.arm or "", "template_id": row.template_id, "purpose": row.purpose,
    }  # fmt: skip


def _message(session: Session, **where: Any) -> OutboxMessage | None:
    query = select(OutboxMessage)
    for column, value in where.items():
        query = query.where(getattr(OutboxMessage, column) == value)
    return session.scalars(query).first()


def click(session: Session, code: str, now: datetime) -> str:
    """Count a click on a tracked link and record `Message Clicked`; returns the URL to redirect to."""
    link = session.get(TrackedLink, code)
    if link is None:
        raise NotFound("unknown link", field="code")
    session.execute(update(TrackedLink).where(TrackedLink.code == code).values(clicks=TrackedLink.clicks + 1))
    clicks = int(session.scalar(select(TrackedLink.clicks).where(TrackedLink.code == code)) or 1)
    row = _message(session, key=link.message_key)
    props = {**(message_properties(row) if row else {"message_id": link.message_key}), "url": link.url}
    event = SystemEvent(link.customer_id, CLICKED, f"click:{code}:{clicks}", now, props)
    record(session, [event], received_at=now)
    return link.url


def opened(session: Session, code: str, now: datetime) -> bool:
    """Record the first open of an email (`Message Opened`); False for an unknown code."""
    row = _message(session, track_code=code)
    if row is None:
        return False
    record(
        session,
        [SystemEvent(row.customer_id, OPENED, f"open:{code}", now, message_properties(row))],
        received_at=now,
    )
    return True


def unsubscribe(
    session: Session, token: str, now: datetime, origin: str = "unsubscribe link"
) -> tuple[int, str]:
    """Unsubscribe the customer from marketing on the link's channel: a consent row `unsubscribed` and the
    event `Unsubscribed`. Idempotent. Returns (customer id, channel family)."""
    customer_id, family, code = read_token(token)
    values = {"customer_id": customer_id, "channel": family, "purpose": "marketing", "status": "unsubscribed",
              "updated_at": now, "origin": origin}  # fmt: skip
    kind = session.get_bind().dialect.name
    stmt = insert_for(kind, Consent.__table__).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "channel", "purpose"],
            set_={"status": "unsubscribed", "updated_at": now, "origin": origin},
        )
    )
    row = _message(session, track_code=code)
    props = {**(message_properties(row) if row else {}), "channel": family, "purpose": "marketing"}
    event = SystemEvent(customer_id, UNSUBSCRIBED, f"unsub:{customer_id}:{family}:{code}", now, props)
    record(session, [event], received_at=now)
    return customer_id, family


def outcome(
    session: Session, key: str, what: str, at: datetime, properties: dict[str, Any] | None = None
) -> None:
    """A delivery receipt, failure, bounce, read or reply for the message `key`, as its timeline event
    (idempotent per message and outcome; a reply with its own `reply_id` is one event per reply)."""
    name = OUTCOMES.get(what)
    if name is None:
        raise ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
    row = _message(session, key=key)
    if row is None:
        raise NotFound(f"no message with key {key!r}", field="message_key")
    extra = dict(properties or {})
    suffix = f":{extra['reply_id']}" if what == "replied" and extra.get("reply_id") else ""
    event_key = f"{what}:{open_code(key)}{suffix}"[:128]
    event = SystemEvent(row.customer_id, name, event_key, at, {**extra, **message_properties(row)})
    record(session, [event], received_at=at)
