"""The `webhook` channel: POST the message as JSON, signed with HMAC-SHA256, to one configured URL.

Headers: `X-Siyu-Timestamp` (unix seconds), `X-Siyu-Signature: sha256=<hex HMAC of "timestamp." + body>`,
`Idempotency-Key`. 2xx = sent; 429, 5xx and timeouts = retry later; other 4xx = permanent.

The HTTP client is a small pool of keep-alive `http.client` connections shared by the send threads:
a POST costs about a quarter of the CPU httpx takes, and the dispatch sends tens of thousands a minute.
A request that fails on a reused connection before any answer (the receiver closed it while idle) is
sent once more on a fresh one; the idempotency key makes that safe.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

import orjson

from siyu.core import clock
from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings, get_settings

from .base import OutboundMessage, SendResult, require_settings, retry_after_seconds

SIGNATURE_HEADER = "X-Siyu-Signature"
TIMESTAMP_HEADER = "X-Siyu-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDLE = 32  # idle keep-alive connections kept per channel
# errors a reused connection gives when the receiver closed it while it was idle
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, BrokenPipeError, ConnectionResetError)


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


class Answer:
    """What the receiver said: status, the headers the channel reads, and the start of the body."""

    __slots__ = ("headers", "status", "text")

    def __init__(self, status: int, headers: dict[str, str], text: str) -> None:
        self.status, self.headers, self.text = status, headers, text


class ConnectionPool:
    """Keep-alive connections to one origin, taken and given back by any thread."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("webhook URL must be an http(s) URL with a host", field="webhook_url")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout_s = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _new(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST to the pool's URL; raises TimeoutError or OSError/HTTPException on transport failures."""
        conn, reused = self._take()
        try:
            try:
                answer, keep = self._exchange(conn, body, headers)
            except _STALE:
                if not reused:
                    raise
                conn.close()
                conn = self._new()
                answer, keep = self._exchange(conn, body, headers)
        except BaseException:
            conn.close()
            raise
        if keep:
            self._give_back(conn)
        else:
            conn.close()
        return answer

    def _exchange(
        self, conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> tuple[Answer, bool]:
        conn.request("POST", self.target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        wanted = {
            name: value
            for name in ("X-Request-Id", "Retry-After")
            if (value := response.getheader(name)) is not None
        }
        text = data[:800].decode("utf-8", errors="replace")
        return Answer(response.status, wanted, text), not response.will_close

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout_s: float = 10.0) -> None:
        require_settings(self.name, webhook_url=url, webhook_secret=secret)
        self.url = url
        self.secret = secret
        self._pool = ConnectionPool(url, timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> WebhookChannel:
        s = settings or get_settings()
        return cls(s.webhook_url, s.webhook_secret, timeout_s=s.channel_timeout_s, **kwargs)

    def close(self) -> None:
        self._pool.close()

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
            answer = self._pool.post(body, headers)
        except TimeoutError as exc:
            return SendResult.retryable("timeout", str(exc) or "timed out", 5.0)
        except (OSError, http.client.HTTPException) as exc:
            return SendResult.retryable("transport", f"{type(exc).__name__}: {exc}"[:300], 5.0)
        status = answer.status
        if 200 <= status < 300:
            return SendResult.sent(answer.headers.get("X-Request-Id"))
        detail = answer.text[:200]
        if status == 429 or status >= 500:
            wait = retry_after_seconds(answer.headers.get("Retry-After"), 5.0)
            return SendResult.retryable(f"http_{status}", detail, wait)
        return SendResult.permanent(f"http_{status}", detail)
