"""Test support: customers and orders fed through the real ingestion pipeline at chosen times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.service import create_source
from siyu.auth.tables import Source
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers import search
from siyu.events.ingest import ingest

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the frozen_clock fixture starts here
_ids = itertools.count()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _msg(user: str, event: str, at: datetime, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": f"shop-{next(_ids)}",
        "userId": user,
        "event": event,
        "properties": props,
        "timestamp": at.isoformat(),
    }


def order(user: str, order_id: str, yuan: float, at: datetime, category: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"order_id": order_id, "total": str(yuan)}
    if category is not None:
        props["products"] = [{"product_id": f"p-{category}", "category": category, "price": str(yuan)}]
    return _msg(user, "Order Completed", at, props)


def refund(user: str, order_id: str, at: datetime, yuan: float | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"order_id": order_id}
    if yuan is not None:
        props["total"] = str(yuan)
    return _msg(user, "Order Refunded", at, props)


def cancel(user: str, order_id: str, at: datetime) -> dict[str, Any]:
    return _msg(user, "Order Cancelled", at, {"order_id": order_id})


def visit(user: str, at: datetime) -> dict[str, Any]:
    return _msg(user, "Product Viewed", at, {"product_id": "p-any"})


def source_id(session: Session, name: str = "shop") -> int:
    row = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if row is None:
        row, _key = create_source(session, name)
        session.flush()
    return row.id


def feed(session: Session, *messages: dict[str, Any], source: str = "shop", at: datetime = NOW) -> None:
    """Ingest `messages` (received at `at`) and commit, as a tracking request would."""
    report = ingest(
        session, get_settings(), get_vault(), source_id=source_id(session, source), raws=list(messages),
        received_at=at,
    )  # fmt: skip
    assert report.accepted == len(messages), report
    session.commit()


def cid(session: Session, user: str) -> int:
    found = search.by_identity(session, get_vault(), f"user_id:{user}")
    assert len(found) == 1, (user, found)
    return found[0]
