"""The segment builder: a JSON definition the page previews as the operator types (the browser calls
`POST /api/v1/segments/preview` with the signed-in token), ready examples, and saving a new segment or a
new version of one (`segments.service.create` / `update`, as the API does).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.errors import SiyuError, ValidationFailed
from siyu.segments import service as segments
from siyu.segments.schemas import CONDITION_TYPES, SegmentCreate, SegmentUpdate
from siyu.web import condition_text as words
from siyu.web.deps import SessionDep
from siyu.web.rendering import AUTH_COOKIE, Page, PageDep, PostedForm, form_reader, writing

router = APIRouter(include_in_schema=False)
MAX_DEFINITION_BYTES = 256 * 1024
BuilderFormDep = Depends(form_reader(MAX_DEFINITION_BYTES))
Body = TypeVar("Body", bound=BaseModel)

EXAMPLES: dict[str, dict[str, Any]] = {
    "browsed": {
        "type": "event_count",
        "event": "Product Viewed",
        "where": [{"property": "category", "op": "eq", "value": "精华"}],
        "window": {"last_days": 7},
        "op": "gte",
        "value": 3,
    },
    "valuable_silent": {
        "type": "and",
        "children": [
            {"type": "rfm", "tiers": ["important_value", "important_retain"]},
            {"type": "order", "metric": "last_order_at", "op": "before_days_ago", "value": 60},
        ],
    },
    "repeat_buyers": {"type": "order", "metric": "count", "op": "gte", "value": 2},
    "birthday_soon": {"type": "trait", "name": "birthday", "op": "anniversary_within_days", "value": 7},
    "wecom_no_cream": {
        "type": "and",
        "children": [
            {"type": "consent", "channel": "wecom", "status": "granted"},
            {"type": "lifecycle", "stages": ["new", "returning", "reactivated"]},
            {"type": "not", "child": {"type": "bought", "category": "面霜", "window": {"last_days": 180}}},
        ],
    },
}
JS_STRINGS = (
    "preview_count",
    "preview_took",
    "preview_sample",
    "preview_none",
    "preview_bad_json",
    "preview_signed_out",
    "preview_failed",
    "preview_waiting",
    "error_field",
)


def pretty(root: dict[str, Any]) -> str:
    return json.dumps({"version": 1, "root": root}, ensure_ascii=False, indent=2)


def checked(model: type[Body], data: dict[str, Any]) -> Body:
    """A request body validated as the API would, errors naming the field."""
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ValidationFailed(f"{where}: {first.get('msg', 'invalid')}", field=where) from exc


def _definition(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(f"definition: not valid JSON ({exc})", field="definition") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("definition: a JSON object is needed", field="definition")
    return data


def _builder(
    page: Page, form: dict[str, str], *, segment_id: int | None = None, problem: SiyuError | None = None
) -> Response:
    strings = {key: page.t(key) for key in JS_STRINGS}
    examples = [
        {"key": key, "json": pretty(root), "phrase": words.describe(page.lang, root, words.Names())}
        for key, root in EXAMPLES.items()
    ]
    context = {
        "form": form,
        "segment_id": segment_id,
        "examples": examples,
        "types": [(t, zh, en) for t, (zh, en, _what) in CONDITION_TYPES.items()],
        "strings": strings,
        "api_token": page.request.cookies.get(AUTH_COOKIE, ""),
        "problem": problem,
    }
    status = 200 if problem is None else problem.status_code
    return page.render("segment_builder.html", context, status=status)


@router.get("/segments/new")
def new_segment(page: PageDep) -> Response:
    if (refused := page.refuse("write")) is not None:
        return refused
    form = {"name": "", "description": "", "definition": pretty(EXAMPLES["browsed"])}
    return _builder(page, form)


FIELDS = ("name", "description", "definition")


def _save(page: Page, session: Session, posted: PostedForm, segment_id: int | None) -> Response:
    """Create a segment (no id) or save a new version: the body the API would take, the same service
    call in the same kind of transaction; a refusal shows the form again with the field named."""
    if (refused := page.refuse("write")) is not None:
        return refused
    if posted.problem is not None:
        return page.error(posted.problem, 403 if posted.problem == "error_cross_site" else 400)
    assert page.principal is not None
    form = {k: posted.fields.get(k, "") for k in FIELDS}
    try:
        data = {
            "name": form["name"],
            "description": form["description"].strip() or None,
            "definition": _definition(form["definition"]),
        }
        with writing(session):
            if segment_id is None:
                body = checked(SegmentCreate, data)
                saved = segments.create(session, body, actor=page.principal.name, now=now()).id
            else:
                change = checked(SegmentUpdate, data)
                saved = segments.update(session, segment_id, change, actor=page.principal.name, now=now()).id
    except SiyuError as exc:
        return _builder(page, form, segment_id=segment_id, problem=exc)
    return page.redirect(f"/segments/{saved}")


@router.post("/segments/new")
def create_segment(page: PageDep, session: SessionDep, posted: PostedForm = BuilderFormDep) -> Response:
    return _save(page, session, posted, None)


@router.get("/segments/{segment_id:int}/edit")
def edit_segment(page: PageDep, segment_id: int, session: SessionDep) -> Response:
    if (refused := page.refuse("write")) is not None:
        return refused
    try:
        segment = segments.get(session, segment_id)
    except SiyuError as exc:
        return page.failed(exc)
    definition = json.dumps(segment.definition or {}, ensure_ascii=False, indent=2)
    form = {"name": segment.name, "description": segment.description or "", "definition": definition}
    return _builder(page, form, segment_id=segment_id)


@router.post("/segments/{segment_id:int}/edit")
def save_segment(
    page: PageDep, segment_id: int, session: SessionDep, posted: PostedForm = BuilderFormDep
) -> Response:
    return _save(page, session, posted, segment_id)
