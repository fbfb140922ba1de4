"""`/v1/projects/{writeKey}/settings`: what analytics.js fetches when its cdnURL points at siyu."""

from __future__ import annotations

import httpx

from tests.fixtures.live_server import LiveServer


def test_settings_send_the_library_back_to_siyu(live_server: LiveServer, write_key: str) -> None:
    response = httpx.get(f"{live_server.url}/v1/projects/{write_key}/settings")
    assert response.status_code == 200
    segment = response.json()["integrations"]["Segment.io"]
    assert segment == {
        "apiKey": write_key,
        "apiHost": f"{live_server.url[len('http://') :]}/v1",
        "protocol": "http",
    }


def test_unknown_write_key_is_refused(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/projects/wk_nope/settings")
    assert response.status_code == 401
    assert response.json()["field"] == "authorization"


def test_one_letter_paths_accept_messages(live_server: LiveServer, write_key: str) -> None:
    for path, message in [
        ("s", {"type": "screen", "name": "Cart", "anonymousId": "a-1", "messageId": "s-1"}),
        ("t", {"type": "track", "event": "X", "anonymousId": "a-1", "messageId": "t-1"}),
        ("b", {"batch": [{"type": "track", "event": "Y", "anonymousId": "a-1", "messageId": "b-1"}]}),
    ]:
        response = httpx.post(f"{live_server.url}/v1/{path}", json=message, auth=(write_key, ""))
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
