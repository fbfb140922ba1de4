"""A customer's timeline: their events newest first, paged by an opaque (timestamp, id) cursor."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from siyu.core.clock import as_utc
from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault, mask
from siyu.events.tables import Event


def _encode(ts: datetime, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{event_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        ts, _, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return as_utc(datetime.fromisoformat(ts)), int(event_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this API returned", field="cursor") from exc


def _personal(value: Any, sees_pii: bool, name: str) -> Any:
    if sees_pii:
        return value
    kind = "phone" if name in ("phone", "mobile") else "email" if name == "email" else "text"
    return mask(kind, value) if isinstance(value, str) else "***"


def page(
    session: Session, vault: Vault, customer_id: int, *, cursor: str | None, limit: int, sees_pii: bool
) -> tuple[list[dict[str, Any]], str | None]:
    query = select(Event).where(Event.customer_id == customer_id)
    if cursor:
        ts, event_id = _decode(cursor)
        query = query.where(or_(Event.timestamp < ts, and_(Event.timestamp == ts, Event.id < event_id)))
    rows = list(session.scalars(query.order_by(Event.timestamp.desc(), Event.id.desc()).limit(limit + 1)))
    items = []
    for e in rows[:limit]:
        properties = dict(e.properties)
        context = dict(e.context)
        if e.pii_enc:
            secret = vault.decrypt_json(e.pii_enc)
            for k, v in secret.get("properties", {}).items():
                properties[k] = _personal(v, sees_pii, k.lower())
            if "context_traits" in secret:
                ctx_traits = dict(context.get("traits") or {})
                for k, v in secret["context_traits"].items():
                    ctx_traits[k] = _personal(v, sees_pii, k.lower())
                context["traits"] = ctx_traits
        items.append(
            {
                "id": e.id,
                "type": e.type,
                "name": e.name,
                "message_id": e.message_id,
                "source_id": e.source_id,
                "user_id": e.user_id,
                "anonymous_id": e.anonymous_id,
                "timestamp": e.timestamp,
                "received_at": e.received_at,
                "properties": properties,
                "context": context,
            }
        )
    next_cursor = _encode(rows[limit - 1].timestamp, rows[limit - 1].id) if len(rows) > limit else None
    return items, next_cursor
