"""Console pages of segments: the list (members, last rebuilt) and one segment — its definition in words,
its versions, and its members, paged and masked by role.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from siyu.core.errors import SiyuError
from siyu.core.pii import get_vault
from siyu.segments import service as segments
from siyu.web import condition_text as words
from siyu.web.console_customers import rows_for
from siyu.web.console_explain import names
from siyu.web.deps import SessionDep
from siyu.web.rendering import PageDep, url

router = APIRouter(include_in_schema=False)
MEMBERS_PER_PAGE = 25


@router.get("/segments")
def segments_page(page: PageDep, session: SessionDep, archived: bool = False) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    rows = segments.list_segments(session, include_archived=archived)
    return page.render(
        "segments.html", {"segments": rows, "archived": archived, "can_write": page.may("write")}
    )


@router.get("/segments/{segment_id:int}")
def segment_page(page: PageDep, segment_id: int, session: SessionDep, cursor: int | None = None) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    try:
        segment = segments.get(session, segment_id)
        versions = segments.versions(session, segment_id)
        members, next_cursor = segments.member_page(session, segment_id, after=cursor, limit=MEMBERS_PER_PAGE)
        rows = rows_for(session, get_vault(), [cid for cid, _at in members], page.sees_pii)
    except SiyuError as exc:
        return page.failed(exc)
    definition = segment.definition
    path = f"/segments/{segment_id}"
    context = {
        "segment": segment,
        "phrase": None
        if definition is None
        else words.describe(page.lang, definition["root"], names(session)),
        "raw": None if definition is None else json.dumps(definition, ensure_ascii=False, indent=2),
        "versions": list(reversed(versions)),
        "rows": rows,
        "entered": dict(members),
        "next_url": None if next_cursor is None else url(path, cursor=next_cursor),
        "first_url": path if cursor is not None else None,
        "masked": not page.sees_pii,
        "can_write": page.may("write"),
    }
    return page.render("segment.html", context)
