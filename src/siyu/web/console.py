"""The operator console: sign-in and sign-out, static files, and the routers of every page family
(customers, tags, segments and the segment builder, journeys, insight), server-rendered in 中文 or English.

A thin edge over the same services as the API, masked by role; the API token lives in an HttpOnly,
SameSite=Strict cookie and is checked on every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from siyu.auth.service import token_for
from siyu.web import (
    console_builder,
    console_customers,
    console_explain,
    console_insight,
    console_journeys,
    console_segments,
    console_tags,
)
from siyu.web.deps import SessionDep
from siyu.web.rendering import (
    AUTH_COOKIE,
    FormDep,
    LangDep,
    ViewerDep,
    error,
    finish,
    redirect,
    render,
    safe_next,
)

router = APIRouter(include_in_schema=False)
STATIC_DIR = (Path(__file__).parent / "static").resolve()
PAGE_FAMILIES = (
    console_customers,
    console_explain,
    console_tags,
    console_segments,
    console_builder,
    console_journeys,
    console_insight,
)


@router.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/customers")


@router.get("/signin")
def signin_form(
    request: Request,
    lang: LangDep,
    principal: ViewerDep,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    if principal is not None:
        return redirect(request, safe_next(next_url))
    return render(request, lang, "signin.html", {"next": safe_next(next_url), "error": None})


@router.post("/signin")
def signin_submit(request: Request, lang: LangDep, session: SessionDep, form: FormDep) -> Response:
    next_url = safe_next(form.fields.get("next"))
    token = form.fields.get("token", "").strip()
    problem, status = (form.problem, 403 if form.problem == "error_cross_site" else 400)
    if problem is None and not token:
        problem, status = "error_empty_token", 400
    if problem is None and token_for(session, token) is None:
        problem, status = "error_bad_token", 401
    if problem is not None:
        context = {"next": next_url, "error": problem}
        return render(request, lang, "signin.html", context, status=status)
    response = redirect(request, next_url)
    response.set_cookie(
        AUTH_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
def signout(request: Request, lang: LangDep, principal: ViewerDep, form: FormDep) -> Response:
    if form.problem is not None:
        return error(request, lang, principal, form.problem, 403)
    response = redirect(request, "/signin")
    response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="strict")
    return finish(request, response)


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """The console's own CSS, script and images (a route rather than a mount: it travels with the router)."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return Response(status_code=404)
    return FileResponse(
        target, headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    )


for _family in PAGE_FAMILIES:
    router.include_router(_family.router)
