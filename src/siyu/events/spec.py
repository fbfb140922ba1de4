"""Segment tracking-spec messages: validation with per-field errors, and clock-skew correction.

`parse_message` turns one raw JSON message into a `Message` or raises ValidationFailed naming the field.
Timestamps follow Segment: `timestamp = receivedAt - (sentAt - originalTimestamp)` when `sentAt` is known.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from siyu.core.errors import ValidationFailed

TYPES = ("track", "identify", "page", "screen", "group", "alias")
MAX_ID = 255
MAX_MESSAGE_ID = 128


@dataclass
class Message:
    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    name: str | None  # track event, page/screen name, group id, alias previous id
    properties: dict[str, Any]  # properties (track/page/screen) or traits (identify/group)
    context: dict[str, Any]
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    previous_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def traits(self) -> dict[str, Any]:
        return self.properties if self.type == "identify" else {}


def parse_time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be an ISO-8601 string", field=name)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{name} is not an ISO-8601 date-time: {value[:40]!r}", field=name) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _ident(raw: dict[str, Any], key: str, limit: int = MAX_ID) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationFailed(f"{key} must be a string", field=key)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > limit:
        raise ValidationFailed(f"{key} is longer than {limit} characters", field=key)
    return text


def _obj(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{key} must be an object", field=key)
    return value


def _name(raw: dict[str, Any], key: str, required: bool) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{key} is required", field=key)
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValidationFailed(f"{key} must be a string", field=key)
    text = str(value).strip()
    if len(text) > 200:
        raise ValidationFailed(f"{key} is longer than 200 characters", field=key)
    return text


def parse_message(
    raw: Any, *, received_at: datetime, batch_sent_at: datetime | None, forced_type: str | None = None
) -> Message:
    if not isinstance(raw, dict):
        raise ValidationFailed("each message must be a JSON object", field="message")
    kind = forced_type or raw.get("type")
    if kind not in TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(TYPES)}", field="type")
    message_id = _ident(raw, "messageId", MAX_MESSAGE_ID) or f"siyu-{uuid.uuid4()}"
    user_id = _ident(raw, "userId")
    anonymous_id = _ident(raw, "anonymousId")
    previous_id = None
    if kind == "alias":
        previous_id = _ident(raw, "previousId")
        if previous_id is None:
            raise ValidationFailed("alias needs previousId", field="previousId")
        if user_id is None:
            raise ValidationFailed("alias needs userId", field="userId")
    elif user_id is None and anonymous_id is None:
        raise ValidationFailed("userId or anonymousId is required", field="userId")
    context = _obj(raw, "context")
    if kind == "track":
        name = _name(raw, "event", required=True)
        props = _obj(raw, "properties")
    elif kind in ("page", "screen"):
        name = _name(raw, "name", required=False)
        props = _obj(raw, "properties")
    elif kind == "group":
        name = _ident(raw, "groupId")
        if name is None:
            raise ValidationFailed("group needs groupId", field="groupId")
        props = _obj(raw, "traits")
    elif kind == "identify":
        name = None
        props = _obj(raw, "traits") or _obj(context, "traits")
    else:
        name, props = previous_id, {}
    original = parse_time(raw.get("timestamp"), "timestamp") or parse_time(
        raw.get("originalTimestamp"), "originalTimestamp"
    )
    sent_at = parse_time(raw.get("sentAt"), "sentAt") or batch_sent_at
    if original is not None and sent_at is not None:
        try:
            timestamp = received_at - (sent_at - original)
        except OverflowError as exc:
            raise ValidationFailed(
                "timestamp and sentAt are too far apart to correct", field="timestamp"
            ) from exc
    else:
        timestamp = original or received_at
    return Message(
        type=kind,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        name=name,
        properties=props,
        context=context,
        timestamp=timestamp,
        original_timestamp=original,
        sent_at=sent_at,
        previous_id=previous_id,
    )
