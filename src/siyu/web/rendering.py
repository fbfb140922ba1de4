"""What every console page shares: the request's language and signed-in principal, templates and their
filters, security headers, redirects to sign-in, small posted forms, and domain errors shown as pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

import siyu
from siyu.auth.service import token_for
from siyu.core.database import write_lock
from siyu.core.errors import Forbidden, NotFound, SiyuError
from siyu.core.settings import get_settings
from siyu.web import i18n
from siyu.web.deps import Principal, SessionDep

AUTH_COOKIE = "siyu_auth"
LANG_COOKIE = "siyu_lang"
MAX_FORM_BYTES = 8 * 1024
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = lambda value: i18n.format_time(value, get_settings().timezone)
templates.env.filters["money"] = i18n.format_money
templates.env.filters["minor"] = i18n.format_minor
templates.env.filters["number"] = i18n.format_number
templates.env.filters["percent"] = i18n.format_percent
templates.env.filters["day"] = i18n.format_day
templates.env.filters["figure"] = i18n.format_figure
templates.env.filters["heat"] = i18n.heat_level


# -- request context -------------------------------------------------------------------------------
def language(request: Request, lang: Annotated[str | None, Query()] = None) -> str:
    """`?lang=` wins (and is remembered in a cookie by `finish`), then the cookie, then Chinese."""
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


def form_reader(limit: int) -> Callable[[Request], Any]:
    """A dependency parsing an urlencoded body of at most `limit` bytes (same-origin only)."""

    async def read(request: Request) -> PostedForm:
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            return PostedForm(problem="error_cross_site")
        body = await request.body()
        if len(body) > limit:
            return PostedForm(problem="error_too_large")
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return PostedForm({name: values[0] for name, values in parsed.items()})

    return read


LangDep = Annotated[str, Depends(language)]
ViewerDep = Annotated[Principal | None, Depends(signed_in)]
FormDep = Annotated[PostedForm, Depends(form_reader(MAX_FORM_BYTES))]


# -- responses -------------------------------------------------------------------------------------
def finish(request: Request, response: Response) -> Response:
    """Security headers on every console response; remember an explicit `?lang=` in a cookie."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    wanted = request.query_params.get("lang")
    if wanted in i18n.LANGUAGES and request.cookies.get(LANG_COOKIE) != wanted:
        response.set_cookie(
            LANG_COOKIE, wanted, max_age=365 * 24 * 3600, path="/", httponly=True, samesite="lax"
        )
    return response


def url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def redirect(request: Request, target: str) -> Response:
    return finish(request, RedirectResponse(target, status_code=303))


def render(
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
        "switch_url": url(request.url.path, **params, lang=other),
        "zone": get_settings().timezone,
        "version": siyu.__version__,
        **context,
    }
    return finish(request, templates.TemplateResponse(request, template, page, status_code=status))


def error(request: Request, lang: str, principal: Principal | None, key: str, status: int) -> Response:
    return render(request, lang, "error.html", {"message_key": key}, principal=principal, status=status)


def safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/customers"
    return target


def to_signin(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(url("/signin", next=here), status_code=303)
    if AUTH_COOKIE in request.cookies:
        response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="strict")
    return finish(request, response)


# -- one page request ------------------------------------------------------------------------------
@dataclass
class Page:
    """The request, its language and principal: what a page route needs to answer."""

    request: Request
    lang: str
    principal: Principal | None

    @property
    def sees_pii(self) -> bool:
        return self.principal is not None and self.principal.sees_pii

    def may(self, permission: str) -> bool:
        return self.principal is not None and permission in self.principal.permissions

    def t(self, key: str, **values: Any) -> str:
        return i18n.translate(self.lang, key, **values)

    def refuse(self, permission: str = "read") -> Response | None:
        """A redirect to sign-in, or a 403 page, unless the principal holds `permission`."""
        if self.principal is None:
            return to_signin(self.request)
        if permission not in self.principal.permissions:
            return self.error(f"error_forbidden_{permission}", 403)
        return None

    def render(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return render(self.request, self.lang, template, context, principal=self.principal, status=status)

    def error(self, key: str, status: int) -> Response:
        return error(self.request, self.lang, self.principal, key, status)

    def failed(self, exc: SiyuError) -> Response:
        """A domain error as a page: not found and forbidden by key, the rest with the message."""
        if isinstance(exc, NotFound):
            context = {"message_key": "error_missing", "detail": exc.message, "field": exc.field}
            return self.render("error.html", context, status=404)
        if isinstance(exc, Forbidden):
            return self.error("error_forbidden_read", 403)
        context = {"detail": exc.message, "field": exc.field}
        return self.render("error.html", context, status=exc.status_code)

    def redirect(self, target: str) -> Response:
        return redirect(self.request, target)


def page_of(request: Request, lang: LangDep, principal: ViewerDep) -> Page:
    return Page(request, lang, principal)


PageDep = Annotated[Page, Depends(page_of)]


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """Console writes, as the API does them: end the read the sign-in check began, then write and commit
    inside the SQLite writer lock (the worker thread writes too; a no-op lock on PostgreSQL)."""
    session.commit()
    with write_lock(session):
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()  # the page shows the error: nothing half-written may be committed after it
            raise
