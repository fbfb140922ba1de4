"""Console pages of journeys: the list with status and counts (entered, sent, deferred, converted), one
journey's triggers and nodes with per-node and per-variant counts, and the playbook gallery with clone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.core.clock import now
from siyu.core.errors import SiyuError, ValidationFailed
from siyu.journeys import service as journeys
from siyu.segments import service as segments
from siyu.tags import catalog
from siyu.web import journey_text as steps
from siyu.web.console_explain import names
from siyu.web.deps import SessionDep
from siyu.web.rendering import FormDep, Page, PageDep, writing

router = APIRouter(include_in_schema=False)
HEADLINE = ("entered", "sent", "deferred", "converted")
NODE_METRICS = ("entered", "sent", "delivered", "deferred", "dropped", "failed", "exited")


def _sum(cells: dict[str, dict[str, int]], metric: str) -> int:
    return sum(counts.get(metric, 0) for counts in cells.values())


def headline(stats: dict[str, Any]) -> dict[str, int]:
    """Entered, sent, deferred (all versions, all variants) and converted runs."""
    arms = stats["arms"]
    return {**{m: _sum(arms, m) for m in HEADLINE[:3]}, "converted": int(stats["converted"])}


@router.get("/journeys")
def journeys_page(page: PageDep, session: SessionDep, archived: bool = False) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    rows = [
        {"journey": j, "counts": headline(journeys.stats(session, j.id))}
        for j in journeys.list_journeys(session, include_archived=archived)
    ]
    return page.render("journeys.html", {"rows": rows, "archived": archived, "can_write": page.may("write")})


def _node_rows(
    page: Page, definition: dict[str, Any], cells: dict[str, Any], known: Any
) -> list[dict[str, Any]]:
    rows = []
    for node in definition["nodes"]:
        per_arm: dict[str, dict[str, int]] = cells.get(node["id"], {})
        rows.append(
            {
                "id": node["id"],
                "type": node["type"],
                "label": node.get("label"),
                "text": steps.node_text(page.lang, node, known),
                "next": steps.successors(page.lang, node),
                "counts": {m: _sum(per_arm, m) for m in NODE_METRICS},
                "arms": sorted((arm, counts) for arm, counts in per_arm.items() if arm != "all"),
            }
        )
    return rows


@router.get("/journeys/{journey_id:int}")
def journey_page(page: PageDep, journey_id: int, session: SessionDep, version: int | None = None) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    try:
        journey = journeys.get(session, journey_id)
        shown = version or journey.current_version
        definition = journeys.definition_of(session, journey, shown).model_dump(
            mode="json", exclude_none=True
        )
        stats = journeys.stats(session, journey_id)
        versions = journeys.versions(session, journey_id)
    except LookupError:
        return page.error("journey_no_version", 404)
    except SiyuError as exc:
        return page.failed(exc)
    known = names(session)
    cells = stats["versions"].get(str(shown), {})
    context = {
        "journey": journey,
        "shown": shown,
        "versions": versions,
        "counts": headline(stats),
        "runs": stats["runs"],
        "messages": stats["messages"],
        "arms": sorted((arm, counts) for arm, counts in stats["arms"].items()),
        "triggers": [steps.trigger_text(page.lang, t, known) for t in definition["triggers"]],
        "start": definition["start"],
        "nodes": _node_rows(page, definition, cells, known),
        "reentry": steps.reentry_text(page.lang, definition.get("reentry")),
        "goal": steps.goal_text(page.lang, definition.get("goal")),
    }
    return page.render("journey.html", context)


def _choices(session: Session) -> dict[str, list[tuple[int, str]]]:
    tags = [(t.id, f"{t.group} · {t.name}") for t in catalog.list_tags(session)]
    segs = [(s.id, s.name) for s in segments.list_segments(session)]
    return {"tag": tags, "segment": segs}


def _field_kind(name: str) -> str:
    for suffix, kind in (("_tag_id", "tag"), ("_segment_id", "segment"), ("_staff_id", "number")):
        if name.endswith(suffix):
            return kind
    return "url" if name.endswith("url") else "text"


def _gallery(page: Page, session: Session, *, failed: str | None = None, problem: SiyuError | None = None,
             posted: dict[str, str] | None = None) -> Response:  # fmt: skip
    books = [
        {
            **book,
            "fields": [
                {"name": n, "kind": _field_kind(n), "required": "None" not in kind}
                for n, kind in book["parameters"].items()
            ],
        }
        for book in journeys.playbooks()
    ]
    context = {"books": books, "choices": _choices(session), "can_write": page.may("write"),
               "failed": failed, "problem": problem, "posted": posted or {}}  # fmt: skip
    return page.render("playbooks.html", context, status=200 if problem is None else problem.status_code)


@router.get("/journeys/playbooks")
def playbooks_page(page: PageDep, session: SessionDep) -> Response:
    if (refused := page.refuse("read")) is not None:
        return refused
    return _gallery(page, session)


def _parameters(spec: dict[str, str], fields: dict[str, str]) -> dict[str, Any]:
    """Form fields → playbook parameters: ids as whole numbers; blanks left out (the service names the
    missing ones)."""
    out: dict[str, Any] = {}
    for name, kind in spec.items():
        value = fields.get(name, "").strip()
        if not value:
            continue
        if kind.startswith("int"):
            if not value.isdecimal() or len(value) > 18:
                raise ValidationFailed(f"{name}: a whole number is needed", field=name)
            out[name] = int(value)
        else:
            out[name] = value
    return out


@router.post("/journeys/playbooks/{key}/clone")
def clone_playbook(page: PageDep, key: str, session: SessionDep, form: FormDep) -> Response:
    if (refused := page.refuse("write")) is not None:
        return refused
    if form.problem is not None:
        return page.error(form.problem, 403 if form.problem == "error_cross_site" else 400)
    assert page.principal is not None
    spec = next((b["parameters"] for b in journeys.playbooks() if b["key"] == key), None)
    if spec is None:
        return page.error("error_page_not_found", 404)
    try:
        with writing(session):
            journey = journeys.clone_playbook(
                session, key, _parameters(spec, form.fields), actor=page.principal.name, now=now()
            )
            journey_id = journey.id
    except SiyuError as exc:
        return _gallery(page, session, failed=key, problem=exc, posted=form.fields)
    return page.redirect(f"/journeys/{journey_id}")
