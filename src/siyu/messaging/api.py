"""Messaging API: templates (`/api/v1/templates`, checked at save time), channels (`/api/v1/channels`:
status, enable, quotas), the outbox (`/api/v1/messages`), delivery/reply receipts; and the public
closed-loop endpoints: tracked links `GET /t/{code}`, the open pixel `GET /o/{code}.gif`, and
unsubscribe `GET|POST /u/{token}`.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core import clock
from siyu.core.database import write_lock
from siyu.core.errors import SiyuError
from siyu.web.deps import PrincipalDep, SessionDep

from . import channel_settings, template_store, tracking
from .tables import OutboxMessage

router = APIRouter(tags=["messaging"])
TemplateId = Annotated[str, Path(min_length=1, max_length=100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateSave(_Body):
    channel: str = Field(
        min_length=1, max_length=32, description="wecom, sms_aliyun, sms_tencent, email, webhook…"
    )
    name: str | None = Field(None, max_length=200)
    body: str = Field(description="Jinja2 text (the full SMS text as approved, for SMS)")
    subject: str | None = Field(None, max_length=500, description="Email subject")
    html_body: str | None = Field(None, description="Email HTML part (autoescaped)")
    provider_template: str | None = Field(None, max_length=100, description="SMS TemplateCode / TemplateId")
    params: dict[str, str] = Field(default_factory=dict, description="SMS parameters: name → Jinja2 text")


class TemplateCreate(TemplateSave):
    id: str = Field(min_length=1, max_length=100, description="The id send nodes use as template_id")


class TemplatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    name: str
    subject: str | None
    body: str
    html_body: str | None
    provider_template: str | None
    params: dict[str, str]
    variables: list[str]
    version: int
    updated_at: datetime
    updated_by: str


class Preview(_Body):
    customer_id: int = Field(ge=1, le=2**63 - 1)


class ChannelUpdate(_Body):
    enabled: bool | None = None
    per_customer_daily: int | None = Field(None, ge=0, le=1000, description="null: the default")
    mass_per_customer_daily: int | None = Field(None, ge=0, le=1000, description="null: the default")


class Outcome(_Body):
    message_key: str = Field(min_length=1, max_length=300)
    outcome: str = Field(description=f"one of {', '.join(tracking.OUTCOMES)}")
    at: datetime | None = Field(None, description="When it happened (default: now); timezone-aware")
    properties: dict[str, Any] = Field(default_factory=dict, description="e.g. reply_id, text, error")


@contextmanager
def writing(session: Session) -> Iterator[None]:
    session.commit()
    with write_lock(session):
        yield
        session.commit()


# --- templates -----------------------------------------------------------------------------------------


@router.get("/api/v1/templates", summary="Message templates")
def list_templates(session: SessionDep, principal: PrincipalDep) -> list[TemplatePublic]:
    principal.require("read")
    return [TemplatePublic.model_validate(t) for t in template_store.list_templates(session)]


@router.post(
    "/api/v1/templates", status_code=status.HTTP_201_CREATED, summary="Save a new template (checked)"
)
def create_template(body: TemplateCreate, session: SessionDep, principal: PrincipalDep) -> TemplatePublic:
    principal.require("write")
    data = body.model_dump(exclude={"id"})
    with writing(session):
        row = template_store.save(session, body.id, data, actor=principal.name, now=clock.now())
        return TemplatePublic.model_validate(row)


@router.put("/api/v1/templates/{template_id}", summary="Save a template (a new version; checked)")
def save_template(
    template_id: TemplateId, body: TemplateSave, session: SessionDep, principal: PrincipalDep
) -> TemplatePublic:
    principal.require("write")
    with writing(session):
        row = template_store.save(
            session, template_id, body.model_dump(), actor=principal.name, now=clock.now()
        )
        return TemplatePublic.model_validate(row)


@router.get("/api/v1/templates/{template_id}", summary="One template")
def get_template(template_id: TemplateId, session: SessionDep, principal: PrincipalDep) -> TemplatePublic:
    principal.require("read")
    return TemplatePublic.model_validate(template_store.get(session, template_id))


@router.post("/api/v1/templates/{template_id}/preview", summary="Render for a real customer")
def preview_template(
    template_id: TemplateId, body: Preview, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("write")
    return template_store.preview(session, template_id, body.customer_id)


# --- channels and the outbox ---------------------------------------------------------------------------


@router.get("/api/v1/channels", summary="Channels: configured or not, enabled, quotas")
def list_channels(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    principal.require("read")
    return channel_settings.list_channels(session)


@router.put("/api/v1/channels/{name}", summary="Enable or pause a channel; per-customer daily quotas")
def update_channel(
    name: Annotated[str, Path(max_length=32)],
    body: ChannelUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    principal.require("admin")
    with writing(session):
        changes = body.model_dump(exclude_unset=True)
        return channel_settings.update(session, name, changes, actor=principal.name, now=clock.now())


@router.get("/api/v1/messages", summary="Outbox messages with their status and reason (newest first)")
def list_messages(
    session: SessionDep,
    principal: PrincipalDep,
    customer_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    journey_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=24)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    principal.require("read")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    for column, value in (("customer_id", customer_id), ("journey_id", journey_id), ("status", status_)):
        if value is not None:
            query = query.where(getattr(OutboxMessage, column) == value)
    fields = ("id", "key", "customer_id", "journey_id", "version", "node_id", "arm", "channel", "template_id",
              "purpose", "status", "attempts", "deferrals", "next_attempt_at", "reason_code", "reason_zh",
              "reason_en", "created_at", "sent_at", "provider_id")  # fmt: skip
    return [{f: getattr(row, f) for f in fields} for row in session.scalars(query)]


@router.post("/api/v1/messages/outcomes", summary="A delivery receipt, failure, read or reply for a message")
def record_outcome(body: Outcome, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    principal.require("write")
    at = body.at or clock.now()
    if at.tzinfo is None:
        from siyu.core.errors import ValidationFailed

        raise ValidationFailed("at must carry a time zone", field="at")
    with writing(session):
        tracking.outcome(session, body.message_key, body.outcome, at, body.properties)
    return {"recorded": tracking.OUTCOMES[body.outcome], "message_key": body.message_key}


# --- public closed-loop endpoints (no token: they are in the messages customers receive) ---------------

Code = Annotated[str, Path(min_length=4, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.get("/t/{code}", include_in_schema=False)
def follow_link(code: Code, session: SessionDep) -> RedirectResponse:
    with writing(session):
        url = tracking.click(session, code, clock.now())
    return RedirectResponse(url, status_code=status.HTTP_302_FOUND)


@router.get("/o/{code}.gif", include_in_schema=False)
def open_pixel(code: Code, session: SessionDep) -> Response:
    with writing(session):
        tracking.opened(session, code, clock.now())
    headers = {"Cache-Control": "no-store, max-age=0"}
    return Response(tracking.PIXEL, media_type="image/gif", headers=headers)


PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width"><title>退订 Unsubscribe</title>'
    '<body style="font-family:sans-serif;max-width:32em;margin:3em auto">{content}</body></html>'
)


@router.get("/u/{token}", include_in_schema=False)
def unsubscribe_page(token: Annotated[str, Path(max_length=200)]) -> HTMLResponse:
    """A confirmation page: a GET (e.g. a mail scanner following links) never unsubscribes by itself."""
    try:
        _cid, family, _code = tracking.read_token(token)
    except SiyuError as exc:
        return HTMLResponse(PAGE.format(content=f"<p>{html.escape(exc.message)}</p>"), status_code=400)
    name = html.escape(family)
    form = (
        f"<p>确定不再通过 {name} 接收营销消息?<br>Stop marketing messages on {name}?</p>"
        "<form method=post><button>退订 Unsubscribe</button></form>"
    )
    return HTMLResponse(PAGE.format(content=form))


@router.post("/u/{token}", include_in_schema=False)
async def unsubscribe(token: Annotated[str, Path(max_length=200)], request: Request) -> HTMLResponse:
    """One-click (RFC 8058: `List-Unsubscribe=One-Click` in the body) or the confirmation form."""
    await request.body()  # consumed either way; the signed token alone decides
    from siyu.core.database import unit_of_work

    try:
        with unit_of_work() as session, write_lock(session):
            _cid, family = tracking.unsubscribe(session, token, clock.now())
    except SiyuError as exc:
        return HTMLResponse(PAGE.format(content=f"<p>{html.escape(exc.message)}</p>"), status_code=400)
    name = html.escape(family)
    done = f"<p>已退订 {name} 营销消息。<br>You will no longer receive marketing on {name}.</p>"
    return HTMLResponse(PAGE.format(content=done))
