"""`siyu source create` and `siyu token create` print secrets that work, and only their hashes are stored."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text, update

from siyu.auth.tables import ApiToken, Source
from siyu.core.database import get_engine, unit_of_work
from tests.events.tracking import customer_by, identify, send_batch
from tests.fixtures.live_server import LiveServer

SIYU = str(Path(sys.executable).with_name("siyu"))


def siyu(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIYU_DATABASE_URL": db_url, "SIYU_ENVIRONMENT": "test"}
    return subprocess.run(
        [SIYU, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _columns_containing(db_url: str, needle: str) -> list[str]:
    hits = []
    with get_engine(db_url).connect() as conn:
        for table_name in inspect(conn).get_table_names():
            for col in inspect(conn).get_columns(table_name):
                name = col["name"]
                cast = f'"{name}"::text' if conn.dialect.name == "postgresql" else f'CAST("{name}" AS TEXT)'
                query = text(f'SELECT count(*) FROM "{table_name}" WHERE {cast} LIKE :p')
                if conn.execute(query, {"p": f"%{needle}%"}).scalar():
                    hits.append(f"{table_name}.{name}")
    return hits


def _raw_bytes(db_url: str) -> bytes:
    path = Path(db_url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_source_create_prints_a_working_write_key(
    live_server: LiveServer, db_url: str, tmp_path: Path, api: httpx.Client
) -> None:
    result = siyu(db_url, tmp_path, "source", "create", "douyin-shop")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("wk_") and len(key) > 20
    assert "\n" not in key

    with httpx.Client(base_url=live_server.url, auth=(key, "")) as tracker:
        send_batch(tracker, identify("u-cli", {"plan": "gold"}))
    assert customer_by(api, "user_id:u-cli")["traits"] == {"plan": "gold"}

    again = siyu(db_url, tmp_path, "source", "create", "douyin-shop")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert again.stdout == ""


def test_token_create_prints_a_working_token(
    live_server: LiveServer, db_url: str, tmp_path: Path, tracker: httpx.Client
) -> None:
    send_batch(tracker, identify("u-tok", {"phone": "13912345678"}))
    admin = siyu(db_url, tmp_path, "token", "create", "--name", "ops-lead", "--role", "admin")
    viewer = siyu(db_url, tmp_path, "token", "create", "--name", "intern", "--role", "viewer")
    assert admin.returncode == 0 and viewer.returncode == 0, admin.stderr + viewer.stderr
    admin_token, viewer_token = admin.stdout.strip(), viewer.stdout.strip()
    assert admin_token.startswith("sy_") and viewer_token.startswith("sy_")

    def phone_as(token: str) -> str:
        response = httpx.get(
            f"{live_server.url}/api/v1/customers",
            params={"identity": "phone:13912345678"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        (profile,) = response.json()["items"]
        return str(profile["traits"]["phone"])

    assert phone_as(admin_token) == "13912345678"
    assert phone_as(viewer_token) == "139****5678"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--role", "superuser"], "role must be one of"),
        (["--name", "   ", "--role", "admin"], "name must be"),
    ],
)
def test_token_create_refuses_bad_input(db_url: str, tmp_path: Path, args: list[str], message: str) -> None:
    result = siyu(db_url, tmp_path, "token", "create", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_secrets_are_hashed_at_rest(db_url: str, tmp_path: Path) -> None:
    key = siyu(db_url, tmp_path, "source", "create", "pos").stdout.strip()
    token = siyu(db_url, tmp_path, "token", "create", "--name", "bi", "--role", "analyst").stdout.strip()
    assert key and token
    assert _columns_containing(db_url, "pos")  # control: the scan finds what is stored
    assert _columns_containing(db_url, key) == []
    assert _columns_containing(db_url, token) == []
    assert _columns_containing(db_url, key[10:]) == []  # not even the secret part without its prefix
    assert _columns_containing(db_url, token[10:]) == []
    if db_url.startswith("sqlite"):
        raw = _raw_bytes(db_url)
        assert b"pos" in raw
        assert key.encode() not in raw and key[10:].encode() not in raw
        assert token.encode() not in raw and token[10:].encode() not in raw


def test_revoked_token_and_disabled_source_are_refused(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    key = siyu(db_url, tmp_path, "source", "create", "old-shop").stdout.strip()
    token = siyu(db_url, tmp_path, "token", "create", "--name", "old", "--role", "admin").stdout.strip()
    with unit_of_work() as s:
        s.execute(update(ApiToken).where(ApiToken.name == "old").values(revoked_at=datetime.now(UTC)))
        s.execute(update(Source).where(Source.name == "old-shop").values(disabled=True))
    response = httpx.get(f"{live_server.url}/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]
    response = httpx.post(f"{live_server.url}/v1/track", json={"userId": "u", "event": "E"}, auth=(key, ""))
    assert response.status_code == 401
