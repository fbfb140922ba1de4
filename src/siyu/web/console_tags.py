"""Console pages of tags: the taxonomy (groups with category, kind and exclusivity; tags with member
counts and rules in words) and one tag's members, paged and masked by role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from siyu.core.errors import SiyuError
from siyu.core.pii import get_vault
from siyu.tags import catalog, membership
from siyu.web import condition_text as words
from siyu.web.console_customers import rows_for
from siyu.web.console_explain import names
from siyu.web.deps import SessionDep
from siyu.web.rendering import PageDep, url

router = APIRouter(include_in_schema=False)
MEMBERS_PER_PAGE = 25


@router.get("/tags")
def tags_page(page: PageDep, session: SessionDep) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    known = names(session)
    tags = catalog.list_tags(session)
    groups: list[dict[str, Any]] = []
    for group in catalog.list_groups(session):
        own = [t for t in tags if t.group_id == group.id]
        rows = [
            {"tag": t, "rule": None if t.rule is None else words.describe(page.lang, t.rule, known)}
            for t in own
        ]
        groups.append({"group": group, "tags": rows, "members": sum(t.members for t in own)})
    return page.render("tags.html", {"groups": groups})


@router.get("/tags/{tag_id:int}")
def tag_page(page: PageDep, tag_id: int, session: SessionDep, cursor: int | None = None) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    try:
        tag = catalog.describe_tag(session, tag_id)
        items, next_cursor = membership.customers_of(session, tag_id, after=cursor, limit=MEMBERS_PER_PAGE)
        rows = rows_for(session, get_vault(), [i["customer_id"] for i in items], page.sees_pii)
    except SiyuError as exc:
        return page.failed(exc)
    path = f"/tags/{tag_id}"
    context = {
        "tag": tag,
        "rule": None if tag.rule is None else words.describe(page.lang, tag.rule, names(session)),
        "rows": rows,
        "added": {i["customer_id"]: i["added_at"] for i in items},
        "next_url": None if next_cursor is None else url(path, cursor=next_cursor),
        "first_url": path if cursor is not None else None,
        "masked": not page.sees_pii,
    }
    return page.render("tag.html", context)
