"""Personal data sent through `/v1/identify` is not stored in plain text, yet stays findable and readable.

SQLite: the raw bytes of the database, WAL and shared-memory files (before and after a checkpoint).
Both databases: every column of every table, read back through SQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text

from siyu.core.database import get_engine
from tests.events.tracking import all_events, customer_by, identify, send_batch, track

PHONE = "13912345678"
EMAIL = "Zhang.Wei.Fan@Example.COM"
NAME = "欧阳明月"
ADDRESS = "杭州市西湖区文三路88号"
FIRST, LAST = "Mingyue", "Ouyang"
OLD_NAME = "欧阳小月"  # overwritten later: must not linger in free pages either
MARKER = "plan-visible-marker-7f3a"  # not personal: stored as is (proves the search can find things)

SECRETS = {
    "phone": PHONE,
    "phone (E.164)": "+86" + PHONE,
    "phone (spaced)": "139 1234 5678",
    "email": EMAIL,
    "email (lower)": EMAIL.lower(),
    "name": NAME,
    "old name": OLD_NAME,
    "address": ADDRESS,
    "first name": FIRST,
    "last name": LAST,
}


def _ingest(tracker: httpx.Client) -> None:
    response = tracker.post(
        "/v1/identify",
        json={
            "userId": "u-pii",
            "traits": {"phone": PHONE, "name": OLD_NAME, "plan": MARKER},
            "messageId": "p1",
        },
    )
    assert response.status_code == 200, response.text
    response = tracker.post(
        "/v1/identify",
        json={
            "userId": "u-pii",
            "messageId": "p2",
            "traits": {
                "email": EMAIL,
                "name": NAME,
                "first_name": FIRST,
                "lastName": LAST,
                "address": ADDRESS,
                "mobile": "139 1234 5678",
            },
            "context": {"traits": {"phone": PHONE, "email": EMAIL}},
        },
    )
    assert response.status_code == 200, response.text
    send_batch(
        tracker,
        identify(None, {"phone": "+86" + PHONE}, anonymousId="anon-pii"),
        # In track properties `name` is a product's or page's name by design; phone and email are personal.
        track("u-pii", "Form Submitted", {"email": EMAIL, "phone": PHONE, "form": "spring-trial"}),
    )


def _variants(value: str) -> list[bytes]:
    escaped = value.encode("ascii", "backslashreplace").decode()  # JSON-style \uXXXX escapes
    return [value.encode(), value.lower().encode(), escaped.encode(), escaped.lower().encode()]


def _found_in(blob: bytes) -> list[str]:
    lowered = blob.lower()
    return [label for label, value in SECRETS.items() if any(v.lower() in lowered for v in _variants(value))]


def _sql_hits(db_url: str, needle: str) -> list[str]:
    """`table.column` of every column whose text contains `needle` (case-insensitive)."""
    engine = get_engine(db_url)
    hits = []
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table_name in inspector.get_table_names():
            for col in inspector.get_columns(table_name):
                if conn.dialect.name == "postgresql":
                    clause = text(
                        f'SELECT count(*) FROM "{table_name}" WHERE lower("{col["name"]}"::text) LIKE :p'
                    )
                else:
                    cast = f'CAST("{col["name"]}" AS TEXT)'
                    clause = text(f'SELECT count(*) FROM "{table_name}" WHERE lower({cast}) LIKE :p')
                if conn.execute(clause, {"p": f"%{needle.lower()}%"}).scalar():
                    hits.append(f"{table_name}.{col['name']}")
    return hits


def test_pii_is_readable_through_the_api(tracker: httpx.Client, api: httpx.Client) -> None:
    """The control: what the at-rest tests look for really went in."""
    _ingest(tracker)
    profile = customer_by(api, f"phone:{PHONE}")
    assert profile["traits"]["name"] == NAME
    assert profile["traits"]["email"] == EMAIL
    assert profile["traits"]["address"] == ADDRESS
    assert profile["traits"]["first_name"] == FIRST
    assert profile["traits"]["lastName"] == LAST
    assert profile["traits"]["plan"] == MARKER
    values = {i["value"] for i in profile["identities"]}
    assert {"+86" + PHONE, EMAIL.lower(), "u-pii", "anon-pii"} <= values
    events = {e["message_id"]: e for e in all_events(api, profile["id"])}
    assert events["p2"]["context"]["traits"] == {"phone": PHONE, "email": EMAIL}
    assert len(events) == 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # raw database files exist on SQLite only
def test_sqlite_files_hold_no_plain_pii(tracker: httpx.Client, api: httpx.Client, db_url: str) -> None:
    _ingest(tracker)
    path = Path(db_url.split("///", 1)[1])
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    assert files[1].exists(), "WAL mode expected"

    def scan() -> dict[str, list[str]]:
        return {f.name: _found_in(f.read_bytes()) for f in files if f.exists()}

    everything = b"".join(f.read_bytes() for f in files if f.exists())
    assert MARKER.encode() in everything  # the search does find what is stored in plain text
    assert b"u-pii" in everything
    assert scan() == {f.name: [] for f in files if f.exists()}

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert MARKER.encode() in path.read_bytes()
    assert scan() == {f.name: [] for f in files if f.exists()}

    assert customer_by(api, f"phone:{PHONE}")["traits"]["plan"] == MARKER


def test_no_column_holds_plain_pii(tracker: httpx.Client, api: httpx.Client, db_url: str) -> None:
    _ingest(tracker)
    assert _sql_hits(db_url, MARKER)  # control: the scan finds a plain value
    hits = {label: _sql_hits(db_url, value) for label, value in SECRETS.items()}
    assert hits == {label: [] for label in SECRETS}
    for query in (f"phone:{PHONE}", "phone:+86" + PHONE, f"email:{EMAIL.lower()}", f"email:{EMAIL.upper()}"):
        assert customer_by(api, query)["traits"]["plan"] == MARKER
