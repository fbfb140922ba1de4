"""Schemathesis drives every documented `/api/v1` operation with generated input over real HTTP:
bad input must get a 4xx naming the problem, never a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.live_server import LiveServer


@pytest.mark.slow
def test_no_server_errors(live_server: LiveServer, admin_token: str, write_key: str) -> None:
    import httpx

    # some data so that ids and identities sometimes hit real rows
    message = {"type": "identify", "userId": "u1", "traits": {"phone": "13912345678", "plan": "gold"}}
    sent = httpx.post(f"{live_server.url}/v1/batch", json={"batch": [message]}, auth=(write_key, ""))
    assert sent.status_code == 200, sent.text
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").include(path_regex="^/api/v1/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json().get("error"), response.text

        check()
