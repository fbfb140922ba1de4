"""Schemathesis drives every analytics operation with generated input over real HTTP: bad input gets a
4xx naming the problem, never a 500 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

from tests.analytics.brand import build
from tests.fixtures.live_server import LiveServer


@pytest.mark.slow
def test_no_server_errors(live_server: LiveServer, admin_token: str, session: Session) -> None:
    build(session)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").include(
        path_regex="^/api/v1/(metrics|alerts|experiments)"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        examples = 4 if "materialise" in operation.path else 20  # each run stores a day and its week

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"}, timeout=60)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json().get("error"), response.text

        check()
