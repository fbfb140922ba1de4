"""The receiving end of `siyu bench dispatch`: a small asyncio HTTP/1.1 server (keep-alive) in its own
process that answers every POST with 200 and counts it by `Idempotency-Key`. `GET /stats` returns the
counts: requests, distinct keys, duplicates (requests for a key already seen), first and last arrival.
"""

from __future__ import annotations

import asyncio
import json
import time
from multiprocessing.synchronize import Event as EventType
from typing import Any

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


class Counts:
    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.requests = 0
        self.first: float | None = None
        self.last: float | None = None

    def add(self, key: str) -> None:
        now = time.time()
        self.requests += 1
        self.keys[key] = self.keys.get(key, 0) + 1
        self.first = self.first or now
        self.last = now

    def summary(self) -> dict[str, Any]:
        distinct = len(self.keys)
        return {"requests": self.requests, "distinct": distinct, "duplicates": self.requests - distinct,
                "first_at": self.first, "last_at": self.last}  # fmt: skip


class _Connection(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            self.buffer = self.buffer[end + 4 + size :]
            self._answer(head[0], headers)

    def _answer(self, request_line: str, headers: dict[str, str]) -> None:
        assert self.transport is not None
        if request_line.startswith("GET /stats"):
            body = json.dumps(self.counts.summary()).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
            return
        self.counts.add(headers.get("idempotency-key", ""))
        self.transport.write(OK)


def serve(port: int, ready: EventType) -> None:
    """Run until the process is terminated (the benchmark's parent stops it)."""

    async def main() -> None:
        counts = Counts()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(counts), "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())
