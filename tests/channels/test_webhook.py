"""The webhook channel against a local HTTP sink: signature, headers, body, status mapping, timeouts."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from siyu.channels.base import SendStatus
from siyu.channels.webhook import WebhookChannel, read_answer, sign, verify
from siyu.core.errors import ValidationFailed
from siyu.devtools.pg_server import free_port
from tests.conftest import FrozenClock

from .conftest import message

SECRET = "whsec-test"


class Sink:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.close_after_answer = False  # drop the connection after each answer, without saying so
        self.chunked = False  # answer with a chunked body
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(sink.delay_s)
                sink.received.append(
                    {"headers": dict(self.headers), "body": body, "peer": self.client_address}
                )
                self.send_response(sink.status)
                for name, value in {"X-Request-Id": f"req-{len(sink.received)}", **sink.headers}.items():
                    self.send_header(name, value)
                payload = b'{"error": "slow down"}' if sink.status >= 400 else b"{}"
                if sink.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = len(payload) // 2
                    for part in (payload[:half], payload[half:]):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client timed out
                        self.wfile.write(payload)
                self.close_connection = sink.close_after_answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.stop()


def test_post_is_signed_and_carries_the_idempotency_key(sink: Sink, frozen_clock: FrozenClock) -> None:
    result = WebhookChannel(sink.url, SECRET).send(message(channel="webhook", params={"coupon": "C100"}))
    assert result.status is SendStatus.SENT and result.provider_message_id == "req-1"
    (got,) = sink.received
    headers, body = got["headers"], got["body"]
    assert headers["Idempotency-Key"] == "journey-1:step-2:customer-7"
    assert headers["X-Siyu-Timestamp"] == str(int(frozen_clock.current.timestamp()))
    assert headers["X-Siyu-Signature"] == sign(SECRET, headers["X-Siyu-Timestamp"], body)
    assert verify(SECRET, headers["X-Siyu-Timestamp"], body, headers["X-Siyu-Signature"])
    document = json.loads(body)
    assert document["customer_id"] == 7 and document["params"] == {"coupon": "C100"}
    assert document["purpose"] == "service" and document["sent_at"].startswith("2026-11-01T12:00:00")


def test_verify_rejects_tampering_wrong_secret_and_stale_timestamps(frozen_clock: FrozenClock) -> None:
    ts = str(int(frozen_clock.current.timestamp()))
    signature = sign(SECRET, ts, b'{"a":1}')
    assert verify(SECRET, ts, b'{"a":1}', signature)
    assert not verify(SECRET, ts, b'{"a":2}', signature)
    assert not verify("other", ts, b'{"a":1}', signature)
    assert not verify(SECRET, "not-a-number", b'{"a":1}', signature)
    frozen_clock.advance(seconds=301)
    assert not verify(SECRET, ts, b'{"a":1}', signature)


@pytest.mark.parametrize(
    ("status", "headers", "expected", "wait"),
    [
        (500, {}, SendStatus.FAILED_RETRYABLE, 5.0),
        (503, {"Retry-After": "30"}, SendStatus.FAILED_RETRYABLE, 30.0),
        (429, {"Retry-After": "7"}, SendStatus.FAILED_RETRYABLE, 7.0),
        (400, {}, SendStatus.FAILED_PERMANENT, None),
        (410, {}, SendStatus.FAILED_PERMANENT, None),
        (202, {}, SendStatus.SENT, None),
    ],
)
def test_status_codes(
    sink: Sink, status: int, headers: dict[str, str], expected: SendStatus, wait: float | None
) -> None:
    sink.status, sink.headers = status, headers
    result = WebhookChannel(sink.url, SECRET).send(message(channel="webhook"))
    assert (result.status, result.retry_after_s) == (expected, wait)
    if expected is not SendStatus.SENT:
        assert result.error_code == f"http_{status}"


def test_timeout_and_refused_connection_are_retryable(sink: Sink) -> None:
    sink.delay_s = 0.5
    slow = WebhookChannel(sink.url, SECRET, timeout_s=0.1).send(message(channel="webhook"))
    assert slow.status is SendStatus.FAILED_RETRYABLE and slow.error_code == "timeout"
    refused = WebhookChannel(f"http://127.0.0.1:{free_port()}/", SECRET).send(message(channel="webhook"))
    assert refused.status is SendStatus.FAILED_RETRYABLE and refused.error_code == "transport"


def test_connection_is_reused(sink: Sink) -> None:
    channel = WebhookChannel(sink.url, SECRET)
    for i in range(5):
        assert channel.send(message(channel="webhook", idempotency_key=f"k{i}")).ok
    assert len(sink.received) == 5
    assert len({r["peer"] for r in sink.received}) == 1  # one keep-alive connection
    channel.close()


def test_a_connection_the_receiver_closed_while_idle_is_replaced(sink: Sink) -> None:
    """The sink drops each connection after answering (without saying so): the next send finds the
    pooled connection dead before any answer and goes out once more on a fresh one."""
    channel = WebhookChannel(sink.url, SECRET)
    sink.close_after_answer = True
    for i in range(3):
        assert channel.send(message(channel="webhook", idempotency_key=f"k{i}")).ok
    keys = [r["headers"]["Idempotency-Key"] for r in sink.received]
    assert keys == ["k0", "k1", "k2"]
    assert len({r["peer"] for r in sink.received}) == 3
    channel.close()


def test_a_url_that_is_not_http_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationFailed) as error:
        WebhookChannel("ftp://example.com/hook", SECRET)
    assert error.value.field == "webhook_url"


def test_concurrent_sends_share_the_pool(sink: Sink) -> None:
    channel = WebhookChannel(sink.url, SECRET)
    results: list[bool] = []

    def send(n: int) -> None:
        for i in range(10):
            results.append(channel.send(message(channel="webhook", idempotency_key=f"t{n}-{i}")).ok)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40
    assert sorted(r["headers"]["Idempotency-Key"] for r in sink.received) == sorted(
        f"t{n}-{i}" for n in range(4) for i in range(10)
    )
    assert len({r["peer"] for r in sink.received}) <= 4  # connections reused, at most one per thread
    channel.close()


def test_chunked_answers_are_read_and_the_connection_kept(sink: Sink) -> None:
    sink.chunked = True
    channel = WebhookChannel(sink.url, SECRET)
    assert channel.send(message(channel="webhook", idempotency_key="c1")).ok
    sink.status, sink.headers = 503, {"Retry-After": "12"}
    refused = channel.send(message(channel="webhook", idempotency_key="c2"))
    assert (refused.status, refused.retry_after_s) == (SendStatus.FAILED_RETRYABLE, 12.0)
    assert refused.error_message == '{"error": "slow down"}'
    assert len({r["peer"] for r in sink.received}) == 1
    channel.close()


def test_a_key_with_a_line_break_is_refused_not_sent(sink: Sink) -> None:
    result = WebhookChannel(sink.url, SECRET).send(
        message(channel="webhook", idempotency_key="a\r\nX-Evil: 1")
    )
    assert result.status is SendStatus.FAILED_PERMANENT and result.error_code == "bad_key"
    assert sink.received == []


def _answer(raw: bytes) -> tuple[int, dict[str, str], str, bool]:
    answer, keep = read_answer(io.BytesIO(raw))
    return answer.status, answer.headers, answer.text, keep


def test_answers_are_framed_by_length_chunks_or_the_end_of_the_connection() -> None:
    assert _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: r1\r\n\r\n{}") == (
        200, {"X-Request-Id": "r1"}, "{}", True,
    )  # fmt: skip
    chunked = (
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
        b"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert _answer(chunked) == (503, {"Retry-After": "7"}, "abcde", True)
    # HTTP/1.0 without keep-alive, no length: the body runs to the end and the connection is not reused
    assert _answer(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of it") == (200, {}, "all of it", False)
    assert _answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")[3] is False
    assert _answer(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")[3] is True
    assert _answer(b"HTTP/1.1 204 No Content\r\n\r\n") == (204, {}, "", True)
    # an interim 100 Continue is skipped
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"
    assert _answer(interim)[:3] == (201, {}, "x")


def test_broken_answers_raise_http_errors() -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        read_answer(io.BytesIO(b""))
    with pytest.raises(http.client.BadStatusLine):
        read_answer(io.BytesIO(b"SMTP ready\r\n\r\n"))
    with pytest.raises(http.client.IncompleteRead):
        read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))
    with pytest.raises(http.client.HTTPException):
        read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
    with pytest.raises(http.client.HTTPException):
        read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n"))
