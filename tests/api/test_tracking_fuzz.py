"""Random JSON thrown at the tracking endpoints over real HTTP: never a 5xx, every rejection explained,
and every message answered as accepted is stored exactly once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from siyu.core.database import session_factory
from tests.fixtures.live_server import LiveServer

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
field_values = {
    "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "bogus"]) | json_values,
    "userId": st.text(max_size=300) | st.integers() | json_values,
    "anonymousId": st.text(max_size=20) | json_values,
    "event": st.sampled_from(["Order Completed", "Order Refunded", "Product Viewed", "X"]) | json_values,
    "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", "2026-13-01"]) | json_values,
    "properties": st.fixed_dictionaries(
        {},
        optional={
            "order_id": json_values,
            "total": json_values,
            "currency": json_values,
            "products": json_values,
            "price": json_values,
            "quantity": json_values,
        },
    )
    | json_values,
    "traits": st.fixed_dictionaries(
        {}, optional={"phone": json_values | st.text(max_size=15), "email": json_values, "name": json_values}
    )
    | json_values,
    "context": st.fixed_dictionaries({}, optional={"externalIds": json_values, "traits": json_values})
    | json_values,
    "previousId": json_values,
    "messageId": st.text(min_size=1, max_size=12) | json_values,
}
messages = st.fixed_dictionaries({}, optional=field_values) | json_values


@pytest.mark.slow
def test_tracking_never_fails_with_a_server_error(
    live_server: LiveServer, write_key: str, db_url: str
) -> None:
    @given(batch=st.lists(messages, max_size=5), endpoint=st.sampled_from(["batch", "track", "identify"]))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(batch: list[Any], endpoint: str) -> None:
        body: Any = {"batch": batch} if endpoint == "batch" else (batch[0] if batch else {})
        response = httpx.post(f"{live_server.url}/v1/{endpoint}", json=body, auth=(write_key, ""), timeout=30)
        assert response.status_code < 500, response.text
        payload = response.json()
        if response.status_code >= 400:
            assert payload.get("error") or payload.get("errors"), payload
        elif endpoint == "batch":
            rejected = {e["index"] for e in payload["errors"]}
            assert payload["accepted"] + payload["duplicates"] + len(rejected) == len(batch), payload
        else:
            assert payload["accepted"] + payload["duplicates"] == 1, payload

    check()
    with session_factory(db_url)() as session:
        stored = session.execute(text("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM events")).one()
    assert stored[0] == stored[1]
