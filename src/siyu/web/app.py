"""The ASGI application: tracking API (`/v1/*`), read API (`/api/v1/*`), health, console, error mapping."""

from __future__ import annotations

import importlib
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text

import siyu
from siyu.core.database import get_engine
from siyu.core.errors import SiyuError
from siyu.core.runtime import tune_gc
from siyu.core.settings import get_settings
from siyu.web.guards import RejectNul

# Routers of each capability, included in this order. A capability still being built may be absent.
ROUTERS = (
    "siyu.events.api",
    "siyu.customers.api",
    "siyu.tags.api",
    "siyu.segments.api",
    "siyu.rfm.api",
    "siyu.lifecycle.api",
    "siyu.journeys.api",
    "siyu.messaging.api",
    "siyu.analytics.api",
    "siyu.predict.api",
    "siyu.wecom.api",
    "siyu.web.console",
)


def _include_routers(app: FastAPI) -> None:
    for name in ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not f"{name}.".startswith(f"{exc.name}."):
                raise  # a missing dependency, not a capability that is not there yet
            continue
        app.include_router(module.router)


def create_app() -> FastAPI:
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
    app.add_middleware(RejectNul)

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

    _include_routers(app)
    return app


FRONT_NICENESS = 5


def create_served_app() -> FastAPI:
    """The app as `siyu serve` runs it: in each server process, the collector is tuned once loaded."""
    app = create_app()
    tune_gc()
    if get_settings().ingest_writer_socket:
        # a front of the one SQLite writer: when the cores are contended, the writer (the limit) goes
        # first; the fronts spend most of their time waiting for it anyway
        os.nice(FRONT_NICENESS)
    return app
