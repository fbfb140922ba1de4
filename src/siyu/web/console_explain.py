"""Console page explaining a customer's membership of a segment: every condition of the definition
evaluated for that customer (true or false) and the values its leaves saw, in words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.errors import SiyuError
from siyu.core.pii import get_vault
from siyu.customers import profiles
from siyu.segments import graph
from siyu.segments import service as segments
from siyu.segments.explain import explain
from siyu.tags import catalog
from siyu.web import condition_text as words
from siyu.web import i18n
from siyu.web.console_customers import display_name
from siyu.web.deps import SessionDep
from siyu.web.rendering import PageDep

router = APIRouter(include_in_schema=False)


def names(session: Session) -> words.Names:
    """Tag and segment names, for conditions that refer to them by id."""
    tags = {t.id: f"{t.group} · {t.name}" for t in catalog.list_tags(session, archived=True)}
    segs = {s.id: s.name for s in segments.list_segments(session, include_archived=True)}
    return words.Names(tags=tags, segments=segs)


def explained(lang: str, node: dict[str, Any], known: words.Names) -> dict[str, Any]:
    """An explain tree node in words: result, and at leaves what was seen."""
    kind = str(node["type"])
    if "children" in node:
        return {
            "type": kind,
            "text": i18n.translate(lang, f"cond_{kind}"),
            "result": bool(node["result"]),
            "seen": [],
            "children": [explained(lang, child, known) for child in node["children"]],
        }
    return {
        "type": kind,
        "text": words.leaf_text(lang, node["condition"], known),
        "result": bool(node["result"]),
        "seen": words.seen_items(lang, node.get("seen") or {}),
        "children": [],
    }


@router.get("/customers/{customer_id:int}/segments")
def pick_segment(
    page: PageDep, customer_id: int, session: SessionDep, segment: int | None = None
) -> Response:
    """Choose any dynamic segment to check the customer against (members or not)."""
    if (refused := page.refuse("read")) is not None:
        return refused
    if segment is not None:
        return page.redirect(f"/customers/{customer_id}/segments/{segment}")
    return explain_page(page, customer_id, None, session)


@router.get("/customers/{customer_id:int}/segments/{segment_id:int}")
def explain_page(page: PageDep, customer_id: int, segment_id: int | None, session: SessionDep) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    try:
        profile = profiles.profile(session, get_vault(), customer_id, sees_pii=page.sees_pii)
        canonical, rows = segments.customer_segments(session, customer_id)
        choices = [s for s in segments.list_segments(session) if s.kind == "dynamic"]
        context: dict[str, Any] = {
            "profile": profile,
            "name": display_name(profile),
            "choices": choices,
            "segment": None,
            "tree": None,
        }
        if segment_id is not None:
            segment = segments.get(session, segment_id)
            context["segment"] = segment
            context["member"] = any(s.id == segment.id for s, _at in rows)
            if segment.kind == "dynamic" and segment.definition is not None:
                root = graph.parsed("segment", segment.id, segment.version, segment.definition["root"])
                tree = explain(session, root, canonical, now())
                context["tree"] = explained(page.lang, tree, names(session))
    except SiyuError as exc:
        return page.failed(exc)
    return page.render("explain.html", context)
