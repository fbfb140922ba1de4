"""The `webhook` channel: POST the message as JSON, signed with HMAC-SHA256, to one configured URL.

Headers: `X-Siyu-Timestamp` (unix seconds), `X-Siyu-Signature: sha256=<hex HMAC of "timestamp." + body>`,
`Idempotency-Key`. 2xx = sent; 429, 5xx and timeouts = retry later; other 4xx = permanent.

The HTTP client is a small pool of keep-alive connections shared by the send threads, each request
written in one system call and the answer read by a small HTTP/1.x reader (`read_answer`): a POST costs
a fraction of the CPU httpx or `http.client` take, and the dispatch sends tens of thousands a minute.
A request that fails on a reused connection before any answer (the receiver closed it while idle) is
sent once more on a fresh one; the idempotency key makes that safe.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
import ssl
import threading
from typing import Any, BinaryIO
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


_WANTED = {"x-request-id": "X-Request-Id", "retry-after": "Retry-After"}
_LINE_MAX, _HEADERS_MAX = 65536, 100


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(_LINE_MAX + 1)
    if len(line) > _LINE_MAX:
        raise http.client.LineTooLong("answer line")
    return line


def read_answer(stream: BinaryIO) -> tuple[Answer, bool]:
    """Read one HTTP/1.x answer to a POST: (status, the wanted headers and the start of the body; whether
    the connection may be reused). The body is framed by Content-Length, chunked transfer coding, or the
    end of the connection. `http.client` parses headers with the `email` package, which cost half of a
    send's CPU against a local receiver; the few headers a webhook answer needs are split here.
    Raises `http.client.HTTPException` subclasses (RemoteDisconnected when nothing came back)."""
    while True:
        first = _line(stream)
        if not first:
            raise http.client.RemoteDisconnected("the receiver closed the connection without answering")
        version, _, rest = first.decode("latin-1").rstrip("\r\n").partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise http.client.BadStatusLine(first.decode("latin-1"))
        headers: dict[str, str] = {}
        for _ in range(_HEADERS_MAX + 1):
            line = _line(stream)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise http.client.HTTPException(f"more than {_HEADERS_MAX} headers")
        status = int(code)
        if status >= 200 or status == 101:
            break  # 1xx interim answers (100 Continue) are skipped
    connection = headers.get("connection", "").lower()
    keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        data = _chunked(stream)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise http.client.HTTPException("bad Content-Length") from None
        data = stream.read(length) if length > 0 else b""
        if len(data) < length:
            raise http.client.IncompleteRead(data, length - len(data))
    elif status in (204, 304):
        data = b""
    else:
        data, keep = stream.read(), False
    wanted = {_WANTED[k]: v for k, v in headers.items() if k in _WANTED}
    return Answer(status, wanted, data[:800].decode("utf-8", errors="replace")), keep


def _chunked(stream: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _line(stream).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise http.client.HTTPException("bad chunk size") from None
        if size == 0:
            while _line(stream) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        part = stream.read(size)
        if len(part) < size:
            raise http.client.IncompleteRead(part, size - len(part))
        parts.append(part)
        _line(stream)  # the CRLF after the chunk


class ConnectionPool:
    """Keep-alive connections to one origin, taken and given back by any thread.

    A request goes out in one `sendall` (request line, headers and body together: http.client writes the
    body separately, which costs a second system call and a second wake-up of the receiver), and the
    answer is read by `read_answer` (content length, chunked, or until close)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("webhook URL must be an http(s) URL with a host", field="webhook_url")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        authority = host if parts.port is None else f"{host}:{self.port}"
        self.head = f"POST {target} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
        self.timeout_s = timeout_s
        self._tls = ssl.create_default_context() if self.https else None
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def _new(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            try:
                return self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        return sock

    def _take(self) -> tuple[socket.socket, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(sock)
                return
        sock.close()

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST to the pool's URL; raises TimeoutError or OSError/HTTPException on transport failures."""
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = b"".join(
            (self.head, lines.encode("latin-1"), b"Content-Length: %d\r\n\r\n" % len(body), body)
        )
        sock, reused = self._take()
        try:
            try:
                answer, keep = self._exchange(sock, request)
            except _STALE:
                if not reused:
                    raise
                sock.close()
                sock = self._new()
                answer, keep = self._exchange(sock, request)
        except BaseException:
            sock.close()
            raise
        if keep:
            self._give_back(sock)
        else:
            sock.close()
        return answer

    @staticmethod
    def _exchange(sock: socket.socket, request: bytes) -> tuple[Answer, bool]:
        sock.sendall(request)
        with sock.makefile("rb") as answer:
            return read_answer(answer)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


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
        key = message.idempotency_key
        if "\r" in key or "\n" in key:
            return SendResult.permanent("bad_key", "the idempotency key contains a line break")
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            IDEMPOTENCY_HEADER: key,
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
