"""Rendering a batch of outbox messages: load each template once, build each customer's context (traits,
stats, tags, owner advisor, coupon, journey, trigger) with only the queries the templates need, render in
the sandbox, check the channel's length limit, and make links trackable (plus, for email, the open pixel
and the one-click unsubscribe URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.columns import Json
from siyu.core.database import UTCDateTime
from siyu.core.errors import ValidationFailed
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings

from . import templates, tracking
from .limits import measure
from .outbox import OutboxRow
from .policy import channel_family
from .recipients import owners
from .sqlids import ids_value, keys_value, text_in
from .tables import MessageTemplate
from .variables import STATS, build_context

NAME_TRAITS = ("name", "full_name", "first_name", "姓名")


@dataclass
class Rendered:
    template_version: int
    body: str
    subject: str | None = None
    html_body: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    provider_template: str | None = None
    track_code: str | None = None
    unsubscribe_url: str | None = None
    links: list[dict[str, Any]] = field(default_factory=list)


class RenderError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def coupon_code(pool: str, message_key: str) -> str:
    """A code for the message from pool `pool`, the same on every retry of the message."""
    return f"{pool.upper()[:12]}-{tracking.link_code(message_key, pool)[:8].upper()}"


def _traits(session: Session, ids: Sequence[int], names: set[str]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {cid: {} for cid in ids}
    if not names:
        return out
    vault = get_vault()
    sql = "SELECT customer_id, name, value, value_enc FROM traits WHERE {in} AND {names}"
    query = text_in(session, sql, "customer_id", names=("name", "names")).columns(value=Json)
    params = {"ids": ids_value(session, ids), "names": keys_value(session, names)}
    for cid, name, value, enc in session.execute(query, params):
        out[int(cid)][str(name)] = vault.decrypt_json(enc) if enc is not None else value
    return out


_TIMES = ("first_seen_at", "last_seen_at", "first_order_at", "last_order_at")


def _stats(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    sql = f"SELECT customer_id, {', '.join(STATS)} FROM customer_stats WHERE {{in}}"  # noqa: S608 (names from code)
    query = text_in(session, sql, "customer_id").columns(**{t: UTCDateTime() for t in _TIMES})
    return {
        int(row[0]): dict(zip(STATS, row[1:], strict=True))
        for row in session.execute(query, {"ids": ids_value(session, ids)})
    }


def _tags(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    sql = ("SELECT c.customer_id, t.name FROM customer_tags c JOIN tags t ON t.id = c.tag_id"
           " WHERE {in} ORDER BY t.name")  # fmt: skip
    for cid, name in session.execute(
        text_in(session, sql, "c.customer_id"), {"ids": ids_value(session, ids)}
    ):
        out.setdefault(int(cid), []).append(str(name))
    return out


def trait_names(variables: Iterable[str]) -> set[str]:
    """Trait names a template uses, from its variable paths (`customer.traits.skin_type`)."""
    return {v.split(".")[2] for v in variables if v.startswith("customer.traits.") and len(v.split(".")) > 2}


def _uses(templates_: Iterable[MessageTemplate], prefix: str) -> bool:
    return any(v == prefix or v.startswith(prefix + ".") for t in templates_ for v in t.variables)


class BatchRenderer:
    """Renders the messages of one dispatch batch; `render(row)` raises RenderError."""

    def __init__(self, session: Session, rows: Sequence[OutboxRow], now: datetime) -> None:
        self.now = now
        ids = sorted({r.template_id for r in rows})
        self.templates = {
            t.id: t for t in session.scalars(select(MessageTemplate).where(MessageTemplate.id.in_(ids)))
        }
        used = list(self.templates.values())
        customers = sorted({r.customer_id for r in rows})
        names = set(NAME_TRAITS) if _uses(used, "customer.name") else set()
        names |= {n for t in used for n in trait_names(t.variables)}
        self.traits = _traits(session, customers, names)
        self.stats = _stats(session, customers) if _uses(used, "customer.stats") else {}
        self.tags = _tags(session, customers) if _uses(used, "customer.tags") else {}
        self.owners = owners(session, customers)
        self.links: list[dict[str, Any]] = []

    def context(self, row: OutboxRow, template: MessageTemplate) -> dict[str, Any]:
        traits = self.traits.get(row.customer_id, {})
        owner = self.owners.get(row.customer_id)
        ctx = row.context or {}
        coupon = {"code": coupon_code(row.coupon_pool, row.key)} if row.coupon_pool else None
        return build_context(
            customer_id=row.customer_id, timezone=str(ctx.get("timezone") or get_settings().timezone),
            name=next((str(traits[n]) for n in NAME_TRAITS if traits.get(n)), ""), traits=traits,
            known_traits=sorted(trait_names(template.variables)), stats=self.stats.get(row.customer_id),
            tags=self.tags.get(row.customer_id, []), coupon=coupon,
            owner={"name": owner[0], "userid": owner[1]} if owner else None,
            journey={"id": row.journey_id, "name": ctx.get("journey_name", ""), "node": row.node_id or ""},
            trigger=ctx.get("trigger") or {}, now=self.now,
        )  # fmt: skip

    def render(self, row: OutboxRow) -> Rendered:
        template = self.templates.get(row.template_id)
        if template is None:
            raise RenderError("template_missing", f"no template called {row.template_id!r}")
        context = self.context(row, template)
        try:
            body = templates.render(template.body, context)
            subject = templates.render(template.subject, context) if template.subject else None
            html = templates.render(template.html_body, context, html=True) if template.html_body else None
            params = {k: templates.render(v, context) for k, v in (template.params or {}).items()}
        except ValidationFailed as exc:
            raise RenderError("template_error", exc.message) from None
        check = measure(row.channel, body, get_settings())
        if not check.ok:
            raise RenderError("too_long", check.texts()[1])
        out = Rendered(template.version, body, subject, html, params, template.provider_template)
        self._closed_loop(row, out)
        return out

    def _closed_loop(self, row: OutboxRow, out: Rendered) -> None:
        code = tracking.open_code(row.key)
        out.track_code = code
        if get_settings().track_links:

            def remember(link: str, url: str) -> None:
                out.links.append(
                    {"code": link, "url": url, "message_key": row.key, "customer_id": row.customer_id,
                     "created_at": self.now, "clicks": 0}
                )  # fmt: skip

            out.body = tracking.rewrite_links(out.body, row.key, remember)
            if out.html_body is not None:
                out.html_body = tracking.rewrite_links(out.html_body, row.key, remember)
        if channel_family(row.channel) == "email":
            base = tracking.base_url()
            if row.purpose == "marketing":
                out.unsubscribe_url = (
                    f"{base}/u/{tracking.unsubscribe_token(row.customer_id, row.channel, code)}"
                )
            if out.html_body is not None:
                pixel = f'<img src="{base}/o/{code}.gif" width="1" height="1" alt="">'
                out.html_body = (
                    out.html_body.replace("</body>", pixel + "</body>")
                    if "</body>" in out.html_body
                    else out.html_body + pixel
                )
