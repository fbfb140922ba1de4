"""Schemathesis drives every tag operation with generated input over real HTTP: never a 500, and every
refusal says what is wrong."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.live_server import LiveServer


@pytest.mark.slow
def test_tag_routes_never_fail(live_server: LiveServer, admin_token: str, write_key: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    message = {"type": "identify", "userId": "u1", "traits": {"phone": "13912345678"}}
    assert httpx.post(
        f"{live_server.url}/v1/batch", json={"batch": [message]}, auth=(write_key, "")
    ).is_success
    group = httpx.post(f"{live_server.url}/api/v1/tag-groups", json={"name": "g"}, headers=headers).json()
    httpx.post(f"{live_server.url}/api/v1/tags", json={"group_id": group["id"], "name": "t"}, headers=headers)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").include(
        path_regex="^/api/v1/(tag|customers/[^/]+/tags)"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json().get("error"), response.text

        check()
