"""A NUL character in a query parameter or path is a 400 naming the parameter, on every route, before any
database sees it (PostgreSQL text cannot hold NUL)."""

from __future__ import annotations

import httpx

from siyu.web.guards import nul_field


def test_nul_field_names_the_parameter() -> None:
    assert nul_field("/api/v1/messages", b"limit=5&status=%00sent") == "status"
    assert nul_field("/api/v1/messages", b"limit=5&status=sent") is None
    assert nul_field("/api/v1/customers/\x00", b"") == "path"
    assert nul_field("/api/v1/customers/%00", b"") == "path"
    assert nul_field("/x", b"a%00b=1") == "ab"


def test_nul_in_query_is_a_400_naming_it(api: httpx.Client) -> None:
    response = api.get("/api/v1/messages", params={"status": "\x00"})
    assert response.status_code == 400
    assert response.json()["field"] == "status"
    assert "NUL" in response.json()["error"]
    assert api.get("/api/v1/messages", params={"status": "sent"}).status_code == 200
