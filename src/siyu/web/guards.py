"""Request guards that run before any route: text with a NUL character cannot be stored or compared by
PostgreSQL, so a query string or path holding one is refused with a 400 that names the parameter."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def nul_field(path: str, query_string: bytes) -> str | None:
    """The name of the first query parameter (or "path") that holds a NUL character, else None."""
    if "\x00" in path or "\x00" in unquote(path):
        return "path"
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return "query"


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = nul_field(scope.get("path", ""), scope.get("query_string", b""))
            if field is not None:
                message = f"{field}: must not contain a NUL character"
                body = {"error": message, "field": field, "success": False}
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
