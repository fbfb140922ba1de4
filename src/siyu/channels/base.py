"""The one `Channel` protocol every delivery adapter implements, and the message and result it speaks.

A channel takes a rendered `OutboundMessage` and answers a `SendResult`; it never raises for a provider's
refusal (that is a result), only for programming errors. Retrying and recording are the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from siyu.core import clock
from siyu.core.errors import ValidationFailed
from siyu.messaging.policy import Purpose as Purpose  # one definition; channels speak the governor's


class SendStatus(StrEnum):
    """Stored strings: never rename a value."""

    SENT = "sent"
    QUEUED_FOR_CONFIRMATION = "queued_for_confirmation"  # WeCom mass send waits for the staff member
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"


class OutboundMessage(BaseModel):
    """One rendered message to one recipient, as the outbox hands it to a channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str = Field(description="Registry name of the channel: wecom, sms_aliyun, email, …")
    recipient: str = Field(
        min_length=1,
        description="Address on that channel: phone number, email, WeCom external_userid or chat id, URL.",
    )
    customer_id: int | None = Field(None, description="The customer this message is for.")
    purpose: Purpose = Field(description="transactional > service > marketing (governor priority).")
    idempotency_key: str = Field(
        min_length=1, max_length=200, description="Same key = same message; never delivered twice."
    )
    subject: str | None = Field(None, description="Email subject (other channels ignore it).")
    body: str = Field("", description="Rendered text: WeCom text, email plain part, webhook body.")
    html_body: str | None = Field(None, description="Email HTML part.")
    template_id: str | None = Field(
        None, description="Provider template: Aliyun TemplateCode, Tencent TemplateId."
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Template parameters (SMS: Aliyun by name, Tencent by number 1, 2, …); "
        "WeCom: welcome_code, chat_type=group.",
    )
    attachments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="WeCom attachments as the API spells them (image, link, miniprogram).",
    )
    sender_userid: str | None = Field(
        None, description="WeCom userid of the staff member who sends (mass send)."
    )
    unsubscribe_url: str | None = Field(None, description="One-click unsubscribe URL (email).")


class SendResult(BaseModel):
    """What a channel says about one message."""

    model_config = ConfigDict(frozen=True)

    status: SendStatus
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after_s: float | None = Field(None, description="For retryable failures: wait at least this long.")

    @property
    def ok(self) -> bool:
        return self.status in (SendStatus.SENT, SendStatus.QUEUED_FOR_CONFIRMATION)

    @classmethod
    def sent(cls, provider_message_id: str | None = None, *, note: str | None = None) -> SendResult:
        return cls(status=SendStatus.SENT, provider_message_id=provider_message_id, error_message=note)

    @classmethod
    def queued(cls, provider_message_id: str | None) -> SendResult:
        return cls(status=SendStatus.QUEUED_FOR_CONFIRMATION, provider_message_id=provider_message_id)

    @classmethod
    def retryable(cls, code: str, message: str, retry_after_s: float | None = None) -> SendResult:
        return cls(
            status=SendStatus.FAILED_RETRYABLE,
            error_code=code,
            error_message=message,
            retry_after_s=retry_after_s,
        )

    @classmethod
    def permanent(cls, code: str, message: str) -> SendResult:
        return cls(status=SendStatus.FAILED_PERMANENT, error_code=code, error_message=message)


@runtime_checkable
class Channel(Protocol):
    """A delivery adapter. `send` must not raise for provider or network failures: it returns them."""

    @property
    def name(self) -> str: ...

    def send(self, message: OutboundMessage) -> SendResult: ...


@runtime_checkable
class BatchChannel(Channel, Protocol):
    """A channel that delivers many messages in fewer provider calls (WeCom mass send)."""

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]: ...


def send_all(channel: Channel, messages: Sequence[OutboundMessage]) -> list[SendResult]:
    """Results in the order of `messages`, batched when the channel can batch."""
    if isinstance(channel, BatchChannel):
        results = channel.send_batch(messages)
        if len(results) != len(messages):
            raise RuntimeError(f"channel {channel.name} answered {len(results)} results for {len(messages)}")
        return results
    return [channel.send(message) for message in messages]


def require_settings(channel: str, **values: str) -> None:
    """Refuse to build a channel whose settings are empty, naming the environment variables to set."""
    missing = [f"SIYU_{key.upper()}" for key, value in values.items() if not value]
    if missing:
        raise ValidationFailed(
            f"channel {channel} is not configured: set {', '.join(missing)}", field="channel"
        )


def retry_after_seconds(header: str | None, default: float) -> float:
    """Seconds from an HTTP `Retry-After` header (delta seconds or an HTTP date); `default` when absent."""
    if not header:
        return default
    value = header.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        return default
    return max(0.0, (when - clock.now()).total_seconds())
