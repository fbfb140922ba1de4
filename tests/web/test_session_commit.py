"""A route's unit of work is committed before its response is sent, so a client never reads before its
own write has landed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.web import deps


def test_commit_happens_before_the_response_starts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    log: list[str] = []

    @contextmanager
    def fake_unit_of_work() -> Iterator[Session]:
        yield None  # type: ignore[misc]
        log.append("commit")

    monkeypatch.setattr(deps, "unit_of_work", fake_unit_of_work)
    app = FastAPI()

    @app.post("/write")
    def write(session: deps.SessionDep) -> dict[str, bool]:
        log.append("route")
        return {"ok": True}

    async def recording_app(scope, receive, send):  # type: ignore[no-untyped-def]
        async def recording_send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                log.append("response")
            await send(message)

        await app(scope, receive, recording_send)

    with TestClient(recording_app) as client:
        assert client.post("/write").json() == {"ok": True}
    assert log == ["route", "commit", "response"]
