"""Clock-skew correction as Segment does it: timestamp = receivedAt − (sentAt − timestamp)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.conftest import FrozenClock
from tests.events.tracking import all_events, customer_by, send_batch, track, when

RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the frozen clock's time


def _stored(api: httpx.Client, user_id: str) -> dict[str, dict[str, object]]:
    profile = customer_by(api, f"user_id:{user_id}")
    return {e["message_id"]: e for e in all_events(api, profile["id"])}


def test_skew_corrected_from_batch_sent_at(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    assert frozen_clock() == RECEIVED
    # The device clock is 55 minutes slow: it stamped the event at 11:00 and sent it at 11:05 (its time).
    message = track("u-skew", "Opened", timestamp="2026-11-01T11:00:00.000Z")
    send_batch(tracker, message, sentAt="2026-11-01T11:05:00.000Z")
    event = _stored(api, "u-skew")[message["messageId"]]
    assert when(str(event["timestamp"])) == datetime(2026, 11, 1, 11, 55, tzinfo=UTC)
    assert when(str(event["received_at"])) == RECEIVED


def test_message_sent_at_wins_over_the_batch_one(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    own = track("u-skew2", "A", timestamp="2026-11-01T11:00:00Z", sentAt="2026-11-01T11:10:00Z")
    shared = track("u-skew2", "B", timestamp="2026-11-01T11:00:00Z")
    send_batch(tracker, own, shared, sentAt="2026-11-01T11:00:30Z")
    stored = _stored(api, "u-skew2")
    assert when(str(stored[own["messageId"]]["timestamp"])) == datetime(2026, 11, 1, 11, 50, tzinfo=UTC)
    assert when(str(stored[shared["messageId"]]["timestamp"])) == datetime(
        2026, 11, 1, 11, 59, 30, tzinfo=UTC
    )


def test_device_clock_ahead_and_offsets(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    # A phone in Beijing whose clock is 2 hours fast, reporting in +08:00.
    message = track("u-skew3", "Scanned", timestamp="2026-11-01T21:58:00+08:00")
    send_batch(tracker, message, sentAt="2026-11-01T22:00:00+08:00")
    event = _stored(api, "u-skew3")[message["messageId"]]
    assert when(str(event["timestamp"])) == datetime(2026, 11, 1, 11, 58, tzinfo=UTC)


def test_original_timestamp_as_analytics_js_sends_it(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    message = track(
        "u-skew4", "Clicked", originalTimestamp="2026-11-01T09:00:00.000Z", sentAt="2026-11-01T09:00:05.000Z"
    )
    send_batch(tracker, message)
    event = _stored(api, "u-skew4")[message["messageId"]]
    assert when(str(event["timestamp"])) == datetime(2026, 11, 1, 11, 59, 55, tzinfo=UTC)


def test_without_sent_at_the_timestamp_is_kept(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    # Server-side imports send history without sentAt: nothing to correct.
    message = track("u-skew5", "Imported", timestamp="2025-03-08T08:00:00Z")
    send_batch(tracker, message)
    event = _stored(api, "u-skew5")[message["messageId"]]
    assert when(str(event["timestamp"])) == datetime(2025, 3, 8, 8, 0, tzinfo=UTC)


def test_without_timestamp_the_receive_time_is_used(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    message = track("u-skew6", "Now")
    send_batch(tracker, message, sentAt="2020-01-01T00:00:00Z")
    event = _stored(api, "u-skew6")[message["messageId"]]
    assert when(str(event["timestamp"])) == RECEIVED


def test_single_endpoint_corrects_too(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    body = {"userId": "u-skew7", "timestamp": "2026-11-01T10:00:00Z", "sentAt": "2026-11-01T10:30:00Z"}
    response = tracker.post("/v1/identify", json={**body, "messageId": "skew7", "traits": {"plan": "a"}})
    assert response.status_code == 200, response.text
    event = _stored(api, "u-skew7")["skew7"]
    assert when(str(event["timestamp"])) == datetime(2026, 11, 1, 11, 30, tzinfo=UTC)


def test_profile_first_and_last_seen_use_corrected_times(
    frozen_clock: FrozenClock, tracker: httpx.Client, api: httpx.Client
) -> None:
    early = track("u-skew8", "A", timestamp="2026-10-01T08:00:00Z", sentAt="2026-10-01T08:00:10Z")
    late = track("u-skew8", "B", timestamp="2026-10-01T09:00:00Z", sentAt="2026-10-01T09:00:10Z")
    send_batch(tracker, early)
    frozen_clock.advance(hours=1)
    send_batch(tracker, late)
    stats = customer_by(api, "user_id:u-skew8")["stats"]
    assert when(stats["first_seen_at"]) == datetime(2026, 11, 1, 11, 59, 50, tzinfo=UTC)
    assert when(stats["last_seen_at"]) == datetime(2026, 11, 1, 12, 59, 50, tzinfo=UTC)
    assert stats["events_count"] == 2
