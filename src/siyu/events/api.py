"""Segment-compatible tracking endpoints: `/v1/batch`, `/v1/track|identify|page|screen|group|alias`.

Each also answers at Segment's one-letter path (`/v1/b`, `/v1/t`, `/v1/i`, …), which analytics.js posts to.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from siyu.core.errors import PayloadTooLarge
from siyu.core.settings import get_settings
from siyu.events import service

router = APIRouter(prefix="/v1", tags=["tracking"])


async def _read_body(request: Request) -> bytes:
    """The raw body, refused as soon as it passes the limit (a chunked body has no length up front)."""
    limit = get_settings().max_request_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdecimal() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit} bytes", field="body")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes", field="body")
    return bytes(raw)


async def _handle(request: Request, forced_type: str | None) -> JSONResponse:
    raw = await _read_body(request)
    body = service.decode_body(raw, request.headers.get("content-encoding"))
    key = service.write_key_from(request.headers.get("authorization"), body)
    source_id = service.cached_source_id(key)
    if source_id is None:
        source_id = await run_in_threadpool(service.source_id_for, key)
    messages, sent_at = service.messages_of(body, batch=forced_type is None)
    report = await run_in_threadpool(service.ingest_request, source_id, messages, sent_at, forced_type)
    content: dict[str, Any] = {
        "success": not report.errors,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "errors": [e.as_dict() for e in report.errors],
    }
    if report.errors and report.accepted == 0 and report.duplicates == 0:
        first = report.errors[0]
        content["error"] = f"{first.field}: {first.message}" if first.field else first.message
        content["field"] = first.field
        return JSONResponse(status_code=400, content=content)
    return JSONResponse(status_code=200, content=content)


@router.post("/batch", summary="Ingest a batch of tracking messages")
@router.post("/b", include_in_schema=False)
async def batch(request: Request) -> JSONResponse:
    return await _handle(request, None)


def _single(kind: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return await _handle(request, kind)

    endpoint.__name__ = kind
    return endpoint


for _kind in ("track", "identify", "page", "screen", "group", "alias"):
    router.add_api_route(f"/{_kind}", _single(_kind), methods=["POST"], summary=f"Ingest one {_kind} message")
    router.add_api_route(f"/{_kind[0]}", _single(_kind), methods=["POST"], include_in_schema=False)


@router.get("/projects/{write_key}/settings", summary="analytics.js settings (point its cdnURL at siyu)")
async def project_settings(write_key: str, request: Request) -> JSONResponse:
    """What analytics.js fetches from its CDN before sending anything: here, "send everything to me".

    With `AnalyticsBrowser.load({writeKey, cdnURL: "https://siyu.example"})` the unchanged library
    reads these settings from siyu and then posts to siyu's `/v1/*`.
    """
    await run_in_threadpool(service.source_id_for, write_key)
    host = request.headers.get("host") or request.url.netloc
    settings = {
        "integrations": {
            "Segment.io": {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": request.url.scheme},
        },
        "plan": {"track": {"__default": {"enabled": True}}, "identify": {"__default": {"enabled": True}}},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
    }
    return JSONResponse(settings)
