"""Saved message templates: a save checks every part (subject, body, HTML, SMS parameters) against the
variable schema — unknown variables are an error now, not at send time — and bumps the version; a
preview renders a template for a real customer with the same code the outbox uses.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core import clock
from siyu.core.errors import NotFound, ValidationFailed
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer, Trait

from . import templates
from .limits import measure
from .outbox import OutboxRow
from .policy import channel_family
from .rendering import BatchRenderer, RenderError
from .tables import MessageTemplate
from .variables import context_schema

TEMPLATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,99}$")
PATH = re.compile(r"\b(customer|coupon|journey|trigger|now)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def known_traits(session: Session) -> list[str]:
    """Trait names customers have (what templates may use as `customer.traits.*`)."""
    return sorted(str(n) for n in session.scalars(select(Trait.name).distinct()))


def _variables(*sources: str | None) -> list[str]:
    """Variable paths a template uses (`customer.traits.skin_type`), kept to load only what it needs."""
    found = {m.group(0) for source in sources if source for m in PATH.finditer(source)}
    return sorted(found)


def save(
    session: Session, template_id: str, data: dict[str, Any], *, actor: str, now: datetime
) -> MessageTemplate:
    """Create or replace template `template_id` (version + 1); ValidationFailed names the part at fault."""
    if not TEMPLATE_ID.match(template_id):
        raise ValidationFailed("template id: letters, digits, _ - . (at most 100)", field="id")
    channel = str(data.get("channel") or "")
    if not re.match(r"^[a-z][a-z0-9_]{0,31}$", channel):
        raise ValidationFailed(
            "channel: a channel name such as wecom, sms_aliyun, email, webhook", field="channel"
        )
    schema = context_schema(known_traits(session))
    body, subject, html = str(data.get("body") or ""), data.get("subject"), data.get("html_body")
    params = data.get("params") or {}
    if not body.strip():
        raise ValidationFailed("body: a template needs a text", field="body")
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise ValidationFailed("params: an object of parameter name → template text", field="params")
    templates.validate(body, schema, field="body")
    if subject:
        templates.validate(str(subject), schema, field="subject")
    if html:
        templates.validate(str(html), schema, html=True, field="html_body")
    for name, source in params.items():
        templates.validate(source, schema, field=f"params.{name}")
    if channel_family(channel) == "sms" and not data.get("provider_template"):
        raise ValidationFailed(
            "provider_template: SMS needs the approved TemplateCode / TemplateId", field="provider_template"
        )
    values = {"channel": channel, "name": str(data.get("name") or template_id)[:200], "subject": subject,
              "body": body, "html_body": html, "provider_template": data.get("provider_template"),
              "params": params, "variables": _variables(body, subject, html, *params.values()),
              "updated_at": now, "updated_by": actor[:100]}  # fmt: skip
    row = session.get(MessageTemplate, template_id)
    if row is None:
        row = MessageTemplate(id=template_id, version=1, created_at=now, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
    session.flush()
    return row


def get(session: Session, template_id: str) -> MessageTemplate:
    row = session.get(MessageTemplate, template_id)
    if row is None:
        raise NotFound(f"template {template_id!r} not found", field="template_id")
    return row


def list_templates(session: Session) -> list[MessageTemplate]:
    return list(session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)))


def preview(session: Session, template_id: str, customer_id: int) -> dict[str, Any]:
    """The template rendered for a real customer, with its length as the channel counts it."""
    template = get(session, template_id)
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    now = clock.now()
    row = OutboxRow(
        id=0, key=f"preview:{template_id}:{customer_id}", customer_id=customer_id, journey_id=None,
        version=None, node_id=None, arm=None, channel=template.channel, template_id=template_id,
        purpose="service", urgent=False, mass=False, coupon_pool="preview", context={}, created_at=now,
        expires_at=None, attempts=0, deferrals=0, body=None, subject=None, html_body=None, params=None,
    )  # fmt: skip
    try:
        rendered = BatchRenderer(session, [row], now).render(row)
    except RenderError as exc:
        raise ValidationFailed(exc.message, field="template") from None
    zh, en = measure(template.channel, rendered.body, get_settings()).texts()
    return {"template_id": template_id, "version": template.version, "customer_id": customer_id,
            "subject": rendered.subject, "body": rendered.body, "html_body": rendered.html_body,
            "params": rendered.params, "length_zh": zh, "length_en": en}  # fmt: skip
