"""The ASGI application: tracking API (`/v1/*`), read API (`/api/v1/*`), health, console, error mapping."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text

import siyu
from siyu.core.database import get_engine
from siyu.core.errors import SiyuError


def create_app() -> FastAPI:
    from siyu.customers.api import router as customers_router
    from siyu.events.api import router as tracking_router
    from siyu.web.console import router as console_router

    app = FastAPI(
        title="siyu",
        version=siyu.__version__,
        description="Private-domain customer operations: tracking (Segment-compatible) and customer API.",
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=".*",
        allow_methods=["POST", "GET", "OPTIONS"],
        allow_headers=["*"],
        allow_credentials=True,
    )

    @app.exception_handler(SiyuError)
    async def _domain_error(_request: Request, exc: SiyuError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"error": exc.message, "field": exc.field, "success": False}
        )

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return JSONResponse(
            status_code=400,
            content={"error": f"{where}: {first.get('msg', 'invalid')}", "field": where, "success": False},
        )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": siyu.__version__}

    app.include_router(tracking_router)
    app.include_router(customers_router)
    app.include_router(console_router)
    return app
