"""The `webhook` channel: POST the message as JSON, signed with HMAC-SHA256, to one configured URL.

Headers: `X-Siyu-Timestamp` (unix seconds), `X-Siyu-Signature: sha256=<hex HMAC of "timestamp." + body>`,
`Idempotency-Key`. 2xx = sent; 429, 5xx and timeouts = retry later; other 4xx = permanent.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson

from siyu.core import clock
from siyu.core.settings import Settings, get_settings

from .base import OutboundMessage, SendResult, require_settings, retry_after_seconds

SIGNATURE_HEADER = "X-Siyu-Signature"
TIMESTAMP_HEADER = "X-Siyu-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300.0) -> bool:
    """For receivers: the signature matches and the timestamp is within `tolerance_s` of now."""
    try:
        age = abs(clock.now().timestamp() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    name = "webhook"

    def __init__(
        self, url: str, secret: str, *, timeout_s: float = 10.0, http: httpx.Client | None = None
    ) -> None:
        require_settings(self.name, webhook_url=url, webhook_secret=secret)
        self.url = url
        self.secret = secret
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(timeout_s), limits=httpx.Limits(max_keepalive_connections=32)
        )
        self._owns_http = http is None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> WebhookChannel:
        s = settings or get_settings()
        return cls(s.webhook_url, s.webhook_secret, timeout_s=s.channel_timeout_s, **kwargs)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    @staticmethod
    def body(message: OutboundMessage) -> bytes:
        document = message.model_dump(mode="json", exclude_none=True)
        document["sent_at"] = clock.now().isoformat()
        return orjson.dumps(document)

    def send(self, message: OutboundMessage) -> SendResult:
        body = self.body(message)
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return SendResult.retryable("timeout", str(exc) or "timed out", 5.0)
        except httpx.HTTPError as exc:
            return SendResult.retryable("transport", f"{type(exc).__name__}: {exc}", 5.0)
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(response.headers.get("X-Request-Id"))
        detail = response.text[:200]
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"), 5.0)
            return SendResult.retryable(f"http_{status}", detail, wait)
        return SendResult.permanent(f"http_{status}", detail)
