"""One ingestion writer for several server processes on SQLite.

SQLite has one writer at a time, and a connection's page cache is dropped whenever another connection
has written since its last transaction. Server processes taking turns on the database therefore each
start every write with a cold cache. With `siyu serve --workers N` on SQLite, the server processes
(the "fronts") parse, validate and encrypt tracking batches themselves (`events.ingest.prepare`), then
hand the prepared batch to the writer in the supervising process over a Unix socket. The writer groups
the batches of every front into one transaction (`events.service.write_group`) and answers each
front with its batch's report after the commit, exactly as a single process does. Prepare runs on one
core and the write on the other.

Protocol: each frame is a 4-byte big-endian length and a pickle (the peers are the same program,
started by the same `siyu serve`, on a socket only its user can reach). A front sends a `Prepared` in its
wire form (`Prepared.to_wire`: plain tuples, cheap for the writer to unpickle) and
receives `("ok", IngestReport)` or `("error", exception)`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from siyu.core.checkpoints import WalCheckpointer
from siyu.core.database import set_sqlite_pragma
from siyu.core.errors import SiyuError
from siyu.core.settings import get_settings
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


@dataclass
class WriterStats:
    """What the writer did since it started: groups written, their batches and messages, and the time
    spent writing and answering them (the rest of the time it waited for batches)."""

    started: float = field(default_factory=time.monotonic)
    groups: int = 0
    batches: int = 0
    messages: int = 0
    busy_s: float = 0.0

    def summary(self) -> str:
        wall = max(time.monotonic() - self.started, 1e-9)
        per_group = self.messages / self.groups if self.groups else 0.0
        return (
            f"ingestion writer: {self.groups:,} group commits, {self.batches:,} batches, "
            f"{self.messages:,} messages ({per_group:.0f} per group); "
            f"busy {self.busy_s:.1f} s of {wall:.1f} s ({100 * self.busy_s / wall:.0f}%)"
        )


class WriterServer:
    """Serve prepared batches on `path` (`start`, `stop`).

    One thread does everything: it waits for frames from every front connection, takes the batches
    that have arrived (up to `MAX_GROUP_MESSAGES` messages) as one group, writes the group in one
    transaction and answers each batch. A thread per connection would make the writing thread wait
    for the GIL whenever another thread unpickles a batch; here, while a group is written, the next
    batches wait in the sockets' buffers.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is the owner's only
        try:
            self._listener.bind(path)
        finally:
            os.umask(old)
        self._listener.listen(128)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._stopping = threading.Event()
        self.checkpoints: WalCheckpointer | None = None
        self.stats = WriterStats()
        self._thread = threading.Thread(target=self._run, name="siyu-ingest-writer", daemon=True)

    def start(self) -> WriterServer:
        self.checkpoints = tune_writer_database()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
        untune_writer_database(self.checkpoints)
        for sock in list(self._buffers):
            self._close(sock)
        self._selector.close()
        self._listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        from siyu.events.service import MAX_GROUP_MESSAGES

        pending: list[tuple[socket.socket, Prepared | BaseException]] = []
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.2 if not pending else 0):
                if key.data is None:
                    self._accept()
                else:
                    pending.extend(self._read(key.fileobj))  # type: ignore[arg-type]
            while pending:
                taken, size = 0, 0
                while taken < len(pending) and (taken == 0 or size < MAX_GROUP_MESSAGES):
                    item = pending[taken][1]
                    size += len(item.parsed) if isinstance(item, Prepared) else 0
                    taken += 1
                group, pending = pending[:taken], pending[taken:]
                self._write(group)

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            sock, _ = self._listener.accept()
            self._buffers[sock] = bytearray()
            self._selector.register(sock, selectors.EVENT_READ, "front")

    def _read(self, sock: socket.socket) -> list[tuple[socket.socket, Prepared | BaseException]]:
        """The complete frames `sock` has sent so far (a frame may arrive in several reads)."""
        try:
            chunk = sock.recv(1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self._close(sock)
            return []
        buffer = self._buffers[sock]
        buffer += chunk
        frames: list[tuple[socket.socket, Prepared | BaseException]] = []
        while len(buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + length:
                break
            frames.append((sock, _load(bytes(buffer[_HEADER.size : _HEADER.size + length]))))
            del buffer[: _HEADER.size + length]
        return frames

    def _close(self, sock: socket.socket) -> None:
        self._buffers.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _write(self, group: list[tuple[socket.socket, Prepared | BaseException]]) -> None:
        from siyu.events.service import write_group

        started = time.perf_counter()
        batches = [item for _sock, item in group if isinstance(item, Prepared)]
        try:
            written = iter(write_group(batches) if batches else [])
        except Exception as exc:  # write_group hands each batch its own error; this is a last resort
            written = iter([exc] * len(batches))
        for sock, item in group:
            result = next(written) if isinstance(item, Prepared) else item
            answer = ("error", _portable(result)) if isinstance(result, BaseException) else ("ok", result)
            if sock not in self._buffers:
                continue  # the front went away; a retry of its batch is deduplicated
            try:
                _send(sock, answer)
            except OSError:
                self._close(sock)
        self.stats.groups += 1
        self.stats.batches += len(batches)
        self.stats.messages += sum(len(b.parsed) for b in batches)
        self.stats.busy_s += time.perf_counter() - started


def tune_writer_database() -> WalCheckpointer | None:
    """This process writes for everyone (SQLite): its connections' page cache (`sqlite_writer_cache_mib`),
    and WAL checkpoints from a thread beside the writer instead of inside its commits (`core.checkpoints`).
    Returns the checkpointer to pass to `untune_writer_database` (None on PostgreSQL)."""
    settings = get_settings()
    url = settings.database_url
    if not url.startswith("sqlite"):
        return None
    set_sqlite_pragma(url, "cache_size", -settings.sqlite_writer_cache_mib * 1024)
    return WalCheckpointer(url).start()


def untune_writer_database(checkpoints: WalCheckpointer | None) -> None:
    if checkpoints is not None:
        checkpoints.stop()
        set_sqlite_pragma(checkpoints.url, "cache_size", None)


def _load(frame: bytes) -> Prepared | BaseException:
    """The prepared batch in a frame, or the error that says why it is not one."""
    try:
        return Prepared.from_wire(pickle.loads(frame))  # noqa: S301 (our own fronts, on our user's socket)
    except Exception as exc:
        return exc


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
            _send(sock, prepared.to_wire())
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
