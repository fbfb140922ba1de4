"""Console pages of customers: search and browse, and the profile (stats, RFM, lifecycle, tags,
predictions, segments, identities, traits, merge lineage, timeline), masked by role.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.commerce.money import from_minor
from siyu.core.errors import NotFound, SiyuError
from siyu.core.pii import Vault, get_vault
from siyu.customers import profiles, search
from siyu.events import timeline
from siyu.segments import service as segments
from siyu.web.deps import SessionDep
from siyu.web.rendering import PageDep, url

router = APIRouter(include_in_schema=False)

CUSTOMERS_PER_PAGE = 25
EVENTS_PER_PAGE = 20
_PHONE_LIKE = re.compile(r"^\+?[\d][\d\s-]{4,}$")


def _criteria(by: str, query: str) -> tuple[str | None, str | None]:
    """(identity, trait) for `search.page`; a bare phone number or email is read as that identity."""
    query = query.strip()
    if not query:
        return None, None
    if by == "trait":
        return None, query
    if ":" not in query:
        if "@" in query:
            query = f"email:{query}"
        elif _PHONE_LIKE.match(query):
            query = f"phone:{query}"
    return query, None


def display_name(profile: dict[str, Any]) -> str | None:
    traits = profile["traits"]
    for name in ("name", "full_name", "nickname", "first_name"):
        if traits.get(name) not in (None, ""):
            return str(traits[name])
    return None


def _first(profile: dict[str, Any], kind: str) -> str | None:
    return next((str(i["value"]) for i in profile["identities"] if i["type"] == kind), None)


def summary(profile: dict[str, Any]) -> dict[str, Any]:
    """A customer as one row of a list: id, name, phone, email (masked as the profile is), stats."""
    return {
        "id": profile["id"],
        "name": display_name(profile),
        "phone": _first(profile, "phone"),
        "email": _first(profile, "email"),
        "stats": profile["stats"],
    }


def rows_for(session: Session, vault: Vault, ids: list[int], sees_pii: bool) -> list[dict[str, Any]]:
    """List rows for customer ids (members of a tag or segment), masked unless the role sees PII."""
    return [summary(profiles.profile(session, vault, cid, sees_pii=sees_pii)) for cid in ids]


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdecimal() else None


@router.get("/customers")
def customers_page(
    page: PageDep, session: SessionDep, q: str = "", by: str = "identity", cursor: str | None = None
) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    by = "trait" if by == "trait" else "identity"
    after = _int_or_none(cursor)
    rows: list[dict[str, Any]] = []
    next_cursor: int | None = None
    error: str | None = None
    try:
        identity, trait = _criteria(by, q)
        ids, next_cursor = search.page(
            session, get_vault(), identity=identity, trait=trait, after=after, limit=CUSTOMERS_PER_PAGE
        )
        rows = rows_for(session, get_vault(), ids, page.sees_pii)
    except SiyuError as exc:
        error = exc.message
    context = {
        "q": q,
        "by": by,
        "rows": rows,
        "error": error,
        "next_url": None if next_cursor is None else url("/customers", by=by, q=q, cursor=next_cursor),
        "first_url": url("/customers", by=by, q=q) if after is not None else None,
        "masked": not page.sees_pii,
    }
    return page.render("customers.html", context, status=400 if error else 200)


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return "{…}"
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _event_view(event: dict[str, Any]) -> dict[str, Any]:
    raw = {
        "message_id": event["message_id"],
        "user_id": event["user_id"],
        "anonymous_id": event["anonymous_id"],
        "received_at": event["received_at"],
        "properties": event["properties"],
        "context": event["context"],
    }
    return {
        "id": event["id"],
        "type": event["type"],
        "name": event["name"],
        "timestamp": event["timestamp"],
        "summary": [(k, _scalar(v)) for k, v in list(event["properties"].items())[:8]],
        "raw": json.dumps(raw, ensure_ascii=False, indent=2, sort_keys=True, default=str),
    }


def _memberships(session: Session, customer_id: int) -> list[dict[str, Any]]:
    _canonical, rows = segments.customer_segments(session, customer_id)
    return [{"id": s.id, "name": s.name, "kind": s.kind, "entered_at": at} for s, at in rows]


@router.get("/customers/{customer_id:int}")
def customer_page(
    page: PageDep, customer_id: int, session: SessionDep, events: str | None = None
) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    vault = get_vault()
    try:
        profile = profiles.profile(session, vault, customer_id, sees_pii=page.sees_pii)
        items, next_events = timeline.page(
            session, vault, profile["id"], cursor=events, limit=EVENTS_PER_PAGE, sees_pii=page.sees_pii
        )
        memberships = _memberships(session, profile["id"])
    except NotFound:
        return page.error("error_not_found", 404)
    except SiyuError as exc:
        return page.failed(exc)
    path = f"/customers/{customer_id}"
    stats = profile["stats"]
    context = {
        "profile": profile,
        "name": display_name(profile),
        "events": [_event_view(e) for e in items],
        "next_events_url": None if next_events is None else url(path, events=next_events),
        "newest_url": path if events else None,
        "refunded": str(from_minor(stats["refunded_minor"], stats["currency"])),
        "memberships": memberships,
        "masked": not page.sees_pii,
    }
    return page.render("customer.html", context)
