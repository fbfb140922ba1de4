"""Every database test runs twice: on SQLite and on a throwaway PostgreSQL server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from siyu.core import clock
from siyu.core.database import dispose_engines, session_factory
from siyu.core.settings import get_settings
from siyu.migrations import upgrade
from tests.fixtures.live_server import LiveServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from siyu.devtools.pg_server import ThrowawayPostgres

    server = ThrowawayPostgres().start()
    template_url = server.create_database("siyu_template")
    upgrade(template_url)
    dispose_engines()
    yield server
    dispose_engines()
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    dispose_engines()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "siyu.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database(f"t_{uuid.uuid4().hex[:12]}", template="siyu_template")  # type: ignore[attr-defined]
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield url
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    s = session_factory(db_url)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def live_server(db_url: str) -> Iterator[LiveServer]:
    server = LiveServer().start()
    yield server
    server.stop()


@pytest.fixture
def write_key(db_url: str) -> str:
    from siyu.auth.service import create_source
    from siyu.core.database import unit_of_work

    with unit_of_work() as s:
        _source, key = create_source(s, f"web-{uuid.uuid4().hex[:6]}")
    return key


def _token(role: str) -> str:
    from siyu.auth.service import create_token
    from siyu.core.database import unit_of_work

    with unit_of_work() as s:
        _row, token = create_token(s, f"{role}-{uuid.uuid4().hex[:6]}", role)
    return token


@pytest.fixture
def admin_token(db_url: str) -> str:
    return _token("admin")


@pytest.fixture
def viewer_token(db_url: str) -> str:
    return _token("viewer")


@pytest.fixture
def api(live_server: LiveServer, admin_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {admin_token}"}) as client:
        yield client


@pytest.fixture
def tracker(live_server: LiveServer, write_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, auth=(write_key, "")) as client:
        yield client


class FrozenClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    fc = FrozenClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    clock.set_source(fc)
    yield fc
    clock.set_source(None)
