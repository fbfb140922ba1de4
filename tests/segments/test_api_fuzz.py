"""Schemathesis on the segment endpoints over real HTTP: generated input gets a 4xx naming the problem,
never a 500 (on SQLite and PostgreSQL, which refuses NUL characters in text)."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.live_server import LiveServer

SEGMENT_PATHS = r"^/api/v1/(segments|customers/\{customer_id\}/segments)"


@pytest.mark.slow
def test_no_server_errors(
    live_server: LiveServer, admin_token: str, api: httpx.Client, tracker: httpx.Client
) -> None:
    message = {"type": "identify", "userId": "u1", "traits": {"phone": "13912345678", "plan": "gold"}}
    assert tracker.post("/v1/batch", json={"batch": [message]}).status_code == 200
    definition = {"version": 1, "root": {"type": "trait", "name": "plan", "op": "eq", "value": "gold"}}
    assert api.post("/api/v1/segments", json={"name": "gold", "definition": definition}).status_code == 201
    assert api.post("/api/v1/segments", json={"name": "list", "kind": "static"}).status_code == 201
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").include(
        path_regex=SEGMENT_PATHS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json().get("error"), response.text

        check()
