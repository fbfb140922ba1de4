"""A journey's webhook node: POST its JSON payload to the node's URL with the idempotency key, signed with
`webhook_secret` when it is set (the same headers as the webhook channel). Not a message to a customer:
no governor, no contact history; retried through the outbox like any send.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson

from siyu.channels.base import SendResult, retry_after_seconds
from siyu.channels.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from siyu.core import clock
from siyu.core.settings import get_settings

_client: httpx.Client | None = None
_lock = threading.Lock()


def _http() -> httpx.Client:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(timeout=httpx.Timeout(get_settings().channel_timeout_s))
        return _client


def call(key: str, request: dict[str, Any] | None) -> SendResult:
    """POST `request["payload"]` to `request["url"]`; 2xx sent, 429/5xx/network retry, other 4xx fail."""
    if not request or not isinstance(request.get("url"), str):
        return SendResult.permanent("bad_request", "the webhook call has no URL")
    body = orjson.dumps(request.get("payload") or {})
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key}
    secret = get_settings().webhook_secret
    if secret:
        stamp = str(int(clock.now().timestamp()))
        headers.update({TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body)})
    try:
        response = _http().post(request["url"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        return SendResult.retryable("transport", f"{type(exc).__name__}: {exc}"[:300], 5.0)
    if 200 <= response.status_code < 300:
        return SendResult.sent(response.headers.get("X-Request-Id"))
    detail = response.text[:200]
    if response.status_code == 429 or response.status_code >= 500:
        wait = retry_after_seconds(response.headers.get("Retry-After"), 5.0)
        return SendResult.retryable(f"http_{response.status_code}", detail, wait)
    return SendResult.permanent(f"http_{response.status_code}", detail)
