"""One ingestion writer for several server processes on SQLite.

SQLite has one writer at a time, and a connection's page cache is dropped whenever another connection
has written since its last transaction. Server processes taking turns on the database therefore each
start every write with a cold cache. With `siyu serve --workers N` on SQLite, the server processes
(the "fronts") parse, validate and encrypt tracking batches themselves (`events.ingest.prepare`), then
hand the prepared batch to the writer in the supervising process over a Unix socket. The writer groups
the batches of every front into one transaction (`events.service.write_prepared`) and answers each
front with its batch's report after the commit, exactly as a single process does. Prepare runs on one
core and the write on the other.

Protocol: each frame is a 4-byte big-endian length and a pickle (the peers are the same program,
started by the same `siyu serve`, on a socket only its user can reach). A front sends a `Prepared` and
receives `("ok", IngestReport)` or `("error", exception)`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import socketserver
import struct
import threading
from typing import Any

from siyu.core.errors import SiyuError
from siyu.events.ingest import IngestReport, Prepared

_HEADER = struct.Struct("!I")


class WriterUnavailable(SiyuError):
    """The writer process cannot be reached (it stopped or restarts): the request can be retried."""

    status_code = 503


def _send(sock: socket.socket, payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(sock: socket.socket) -> Any:
    header = _receive_exactly(sock, _HEADER.size)
    if header is None:
        raise EOFError
    body = _receive_exactly(sock, _HEADER.unpack(header)[0])
    if body is None:
        raise EOFError
    return pickle.loads(body)  # noqa: S301 (our own fronts, on a socket only our user can open)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        server: _Server = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections.add(sock)
        try:
            self._serve(sock)
        finally:
            with server.lock:
                server.connections.discard(sock)

    def _serve(self, sock: socket.socket) -> None:
        from siyu.events.service import write_prepared

        while True:
            try:
                prepared = _receive(sock)
            except (EOFError, ConnectionError):
                return
            try:
                answer: tuple[str, Any] = ("ok", write_prepared(prepared))
            except Exception as exc:  # handed to the front, which answers its request with it
                answer = ("error", _portable(exc))
            try:
                _send(sock, answer)
            except (BrokenPipeError, ConnectionError):
                return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        super().__init__(path, _Handler)
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()

    def close_connections(self) -> None:
        with self.lock:
            for sock in self.connections:
                with contextlib.suppress(OSError):  # already closed by the front
                    sock.shutdown(socket.SHUT_RDWR)


class WriterServer:
    """Serve prepared batches on `path` from a background thread (`start`, `stop`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        old = os.umask(0o177)  # the socket is the owner's only
        try:
            self._server = _Server(path)
        finally:
            os.umask(old)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="siyu-ingest-writer", daemon=True
        )

    def start(self) -> WriterServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        if os.path.exists(self.path):
            os.unlink(self.path)


_local = threading.local()


def _connection(path: str) -> socket.socket:
    """This thread's connection to the writer at `path` (made on first use)."""
    held: tuple[str, socket.socket] | None = getattr(_local, "held", None)
    if held is not None and held[0] == path:
        return held[1]
    if held is not None:
        held[1].close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        _local.held = None
        raise
    _local.held = (path, sock)
    return sock


def _drop_connection() -> None:
    held: tuple[str, socket.socket] | None = getattr(_local, "held", None)
    if held is not None:
        held[1].close()
    _local.held = None


def submit(path: str, prepared: Prepared) -> IngestReport:
    """Have the writer at `path` write `prepared`; its report, or the exception the write raised.

    Each thread keeps one connection. A kept connection the writer closed (it restarted) is replaced
    once; if the writer still cannot be reached the call fails with `WriterUnavailable` (the batch may or
    may not have been written: a retry is deduplicated by messageId).
    """
    for attempt in (1, 2):
        reused = getattr(_local, "held", None) is not None
        try:
            sock = _connection(path)
            _send(sock, prepared)
            status, value = _receive(sock)
            break
        except (OSError, EOFError) as exc:
            _drop_connection()
            if attempt == 1 and reused:
                continue
            raise WriterUnavailable("the ingestion writer is not reachable; retry the request") from exc
    if status == "error":
        raise value
    report: IngestReport = value
    return report
