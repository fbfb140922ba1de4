"""The operator console: server-rendered pages for sign-in, customer search and the customer profile.

A thin edge over the same services as the read API (search, profiles, timeline, all masked by role);
the API token lives in an HttpOnly, SameSite=Strict cookie and is checked on every request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

import siyu
from siyu.auth.service import token_for
from siyu.commerce.money import from_minor
from siyu.core.errors import Forbidden, NotFound, SiyuError
from siyu.core.pii import get_vault
from siyu.core.settings import get_settings
from siyu.customers import profiles, search
from siyu.events import timeline
from siyu.web import i18n
from siyu.web.deps import Principal, SessionDep

router = APIRouter(include_in_schema=False)

AUTH_COOKIE = "siyu_auth"
LANG_COOKIE = "siyu_lang"
CUSTOMERS_PER_PAGE = 25
EVENTS_PER_PAGE = 20
MAX_FORM_BYTES = 8 * 1024
HERE = Path(__file__).parent
STATIC_DIR = (HERE / "static").resolve()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_PHONE_LIKE = re.compile(r"^\+?[\d][\d\s-]{4,}$")

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = lambda value: i18n.format_time(value, get_settings().timezone)
templates.env.filters["money"] = i18n.format_money
templates.env.filters["number"] = i18n.format_number


# -- request context -------------------------------------------------------------------------------
def language(request: Request, lang: Annotated[str | None, Query()] = None) -> str:
    """`?lang=` wins (and is remembered in a cookie by `_finish`), then the cookie, then Chinese."""
    return i18n.pick_language(lang, request.cookies.get(LANG_COOKIE))


def signed_in(request: Request, session: SessionDep) -> Principal | None:
    """The principal of the token in the console cookie, or None when absent, unknown or revoked."""
    token = request.cookies.get(AUTH_COOKIE, "")
    row = token_for(session, token) if token else None
    return None if row is None else Principal(row.name, row.role)


@dataclass
class PostedForm:
    fields: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # an i18n key when the form must be refused


async def posted_form(request: Request) -> PostedForm:
    """An urlencoded form body (small, same-origin); parsed here so no multipart dependency is needed."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        return PostedForm(problem="error_cross_site")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return PostedForm(problem="error_too_large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return PostedForm({name: values[0] for name, values in parsed.items()})


LangDep = Annotated[str, Depends(language)]
ViewerDep = Annotated[Principal | None, Depends(signed_in)]
FormDep = Annotated[PostedForm, Depends(posted_form)]


# -- responses -------------------------------------------------------------------------------------
def _finish(request: Request, response: Response) -> Response:
    """Security headers on every console response; remember an explicit `?lang=` in a cookie."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    wanted = request.query_params.get("lang")
    if wanted in i18n.LANGUAGES and request.cookies.get(LANG_COOKIE) != wanted:
        response.set_cookie(
            LANG_COOKIE, wanted, max_age=365 * 24 * 3600, path="/", httponly=True, samesite="lax"
        )
    return response


def _url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _render(
    request: Request,
    lang: str,
    template: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    status: int = 200,
) -> Response:
    other = "en" if lang == "zh" else "zh"
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    page = {
        "lang": lang,
        "t": lambda key, **values: i18n.translate(lang, key, **values),
        "label": lambda prefix, name: i18n.label(lang, prefix, name),
        "principal": principal,
        "switch_url": _url(request.url.path, **params, lang=other),
        "zone": get_settings().timezone,
        "version": siyu.__version__,
        **context,
    }
    return _finish(request, templates.TemplateResponse(request, template, page, status_code=status))


def _error(request: Request, lang: str, principal: Principal | None, key: str, status: int) -> Response:
    return _render(request, lang, "error.html", {"message_key": key}, principal=principal, status=status)


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/customers"
    return target


def _to_signin(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(_url("/signin", next=here), status_code=303)
    if AUTH_COOKIE in request.cookies:
        response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="strict")
    return _finish(request, response)


# -- sign-in ---------------------------------------------------------------------------------------
@router.get("/")
def home(request: Request) -> Response:
    return _finish(request, RedirectResponse("/customers", status_code=303))


@router.get("/signin")
def signin_form(
    request: Request,
    lang: LangDep,
    principal: ViewerDep,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    if principal is not None:
        return _finish(request, RedirectResponse(_safe_next(next_url), status_code=303))
    return _render(request, lang, "signin.html", {"next": _safe_next(next_url), "error": None})


@router.post("/signin")
def signin_submit(request: Request, lang: LangDep, session: SessionDep, form: FormDep) -> Response:
    next_url = _safe_next(form.fields.get("next"))
    token = form.fields.get("token", "").strip()
    problem, status = (form.problem, 403 if form.problem == "error_cross_site" else 400)
    if problem is None and not token:
        problem, status = "error_empty_token", 400
    if problem is None and token_for(session, token) is None:
        problem, status = "error_bad_token", 401
    if problem is not None:
        context = {"next": next_url, "error": problem}
        return _render(request, lang, "signin.html", context, status=status)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        AUTH_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return _finish(request, response)


@router.post("/signout")
def signout(request: Request, lang: LangDep, principal: ViewerDep, form: FormDep) -> Response:
    if form.problem is not None:
        return _error(request, lang, principal, form.problem, 403)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="strict")
    return _finish(request, response)


# -- customers -------------------------------------------------------------------------------------
def _criteria(by: str, query: str) -> tuple[str | None, str | None]:
    """(identity, trait) for `search.page`; a bare phone number or email is read as that identity."""
    query = query.strip()
    if not query:
        return None, None
    if by == "trait":
        return None, query
    if ":" not in query:
        if "@" in query:
            query = f"email:{query}"
        elif _PHONE_LIKE.match(query):
            query = f"phone:{query}"
    return query, None


def _display_name(profile: dict[str, Any]) -> str | None:
    traits = profile["traits"]
    for name in ("name", "full_name", "nickname", "first_name"):
        if traits.get(name) not in (None, ""):
            return str(traits[name])
    return None


def _first(profile: dict[str, Any], kind: str) -> str | None:
    return next((str(i["value"]) for i in profile["identities"] if i["type"] == kind), None)


def _summary(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": profile["id"],
        "name": _display_name(profile),
        "phone": _first(profile, "phone"),
        "email": _first(profile, "email"),
        "stats": profile["stats"],
    }


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@router.get("/customers")
def customers_page(
    request: Request,
    lang: LangDep,
    principal: ViewerDep,
    session: SessionDep,
    q: str = "",
    by: str = "identity",
    cursor: str | None = None,
) -> Response:
    if principal is None:
        return _to_signin(request)
    if "read" not in principal.permissions:
        return _error(request, lang, principal, "error_forbidden", 403)
    by = "trait" if by == "trait" else "identity"
    after = _int_or_none(cursor)
    vault = get_vault()
    rows: list[dict[str, Any]] = []
    next_cursor: int | None = None
    error: str | None = None
    try:
        identity, trait = _criteria(by, q)
        ids, next_cursor = search.page(
            session, vault, identity=identity, trait=trait, after=after, limit=CUSTOMERS_PER_PAGE
        )
        rows = [_summary(profiles.profile(session, vault, cid, sees_pii=principal.sees_pii)) for cid in ids]
    except SiyuError as exc:
        error = exc.message
    context = {
        "q": q,
        "by": by,
        "rows": rows,
        "error": error,
        "next_url": None if next_cursor is None else _url("/customers", by=by, q=q, cursor=next_cursor),
        "first_url": _url("/customers", by=by, q=q) if after is not None else None,
        "masked": not principal.sees_pii,
    }
    return _render(
        request, lang, "customers.html", context, principal=principal, status=400 if error else 200
    )


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return "{…}"
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _event_view(event: dict[str, Any]) -> dict[str, Any]:
    raw = {
        "message_id": event["message_id"],
        "user_id": event["user_id"],
        "anonymous_id": event["anonymous_id"],
        "received_at": event["received_at"],
        "properties": event["properties"],
        "context": event["context"],
    }
    return {
        "id": event["id"],
        "type": event["type"],
        "name": event["name"],
        "timestamp": event["timestamp"],
        "summary": [(k, _scalar(v)) for k, v in list(event["properties"].items())[:8]],
        "raw": json.dumps(raw, ensure_ascii=False, indent=2, sort_keys=True, default=str),
    }


@router.get("/customers/{customer_id:int}")
def customer_page(
    request: Request,
    customer_id: int,
    lang: LangDep,
    principal: ViewerDep,
    session: SessionDep,
    events: str | None = None,
) -> Response:
    if principal is None:
        return _to_signin(request)
    vault = get_vault()
    try:
        principal.require("read")
        profile = profiles.profile(session, vault, customer_id, sees_pii=principal.sees_pii)
        items, next_events = timeline.page(
            session, vault, profile["id"], cursor=events, limit=EVENTS_PER_PAGE, sees_pii=principal.sees_pii
        )
    except Forbidden:
        return _error(request, lang, principal, "error_forbidden", 403)
    except NotFound:
        return _error(request, lang, principal, "error_not_found", 404)
    except SiyuError as exc:
        return _render(
            request, lang, "error.html", {"detail": exc.message}, principal=principal, status=exc.status_code
        )
    path = f"/customers/{customer_id}"
    context = {
        "profile": profile,
        "name": _display_name(profile),
        "events": [_event_view(e) for e in items],
        "next_events_url": None if next_events is None else _url(path, events=next_events),
        "newest_url": path if events else None,
        "refunded": str(from_minor(profile["stats"]["refunded_minor"], profile["stats"]["currency"])),
        "masked": not principal.sees_pii,
    }
    return _render(request, lang, "customer.html", context, principal=principal)


# -- static files ----------------------------------------------------------------------------------
@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """The console's own CSS and images (a route rather than a mount, so it travels with the router)."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return Response(status_code=404)
    return FileResponse(
        target, headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    )
