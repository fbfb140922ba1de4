"""The memory channel (idempotency, scripted failures) and the registry (names, settings, install)."""

from __future__ import annotations

import threading

import pytest

from siyu.channels import registry
from siyu.channels.base import Channel, OutboundMessage, SendResult, SendStatus, retry_after_seconds, send_all
from siyu.channels.memory import MemoryChannel
from siyu.channels.webhook import WebhookChannel
from siyu.core.errors import NotFound, ValidationFailed
from tests.conftest import FrozenClock

from .conftest import Env, message


def test_memory_records_and_deduplicates_by_idempotency_key() -> None:
    channel = MemoryChannel()
    first = channel.send(message())
    again = channel.send(message(body="changed"))
    assert first == again and first.status is SendStatus.SENT
    assert len(channel.deliveries) == 1 and channel.attempts == 2
    channel.send(message(idempotency_key="other"))
    assert [m.idempotency_key for m in channel.sent_to("13912345678")] == [
        "journey-1:step-2:customer-7",
        "other",
    ]


def test_memory_scripted_failure_leaves_the_key_free_for_the_retry() -> None:
    channel = MemoryChannel()
    channel.fail_next(SendResult.retryable("busy", "try later", 30))
    failed = channel.send(message())
    assert failed.status is SendStatus.FAILED_RETRYABLE and failed.retry_after_s == 30
    assert channel.deliveries == []
    assert channel.send(message()).status is SendStatus.SENT
    assert len(channel.deliveries) == 1


def test_memory_is_thread_safe() -> None:
    channel = MemoryChannel()

    def burst(n: int) -> None:
        for i in range(200):
            channel.send(message(idempotency_key=f"k{i % 150}", body=str(n)))

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(channel.deliveries) == 150 and channel.attempts == 800


def test_messages_are_validated() -> None:
    with pytest.raises(ValueError, match="purpose"):
        message(purpose="spam")
    with pytest.raises(ValueError, match="idempotency_key"):
        message(idempotency_key="")
    with pytest.raises(ValueError, match="extra"):
        message(colour="red")


def test_registry_knows_the_builtin_channels() -> None:
    assert {"memory", "wecom", "sms_aliyun", "sms_tencent", "email", "webhook"} <= set(registry.names())
    memory = registry.get("memory")
    assert isinstance(memory, MemoryChannel) and isinstance(memory, Channel)
    assert registry.get("memory") is memory
    with pytest.raises(NotFound, match="no channel called 'pigeon'"):
        registry.get("pigeon")
    with pytest.raises(ValidationFailed, match="already registered"):
        registry.register("memory", MemoryChannel)


def test_install_replaces_a_channel_until_reset() -> None:
    fake = MemoryChannel(name="sms_aliyun")
    registry.install(fake)
    assert registry.get("sms_aliyun") is fake
    stand_in = MemoryChannel()
    registry.install(stand_in, as_name="email")
    assert registry.get("email") is stand_in
    registry.reset()
    with pytest.raises(ValidationFailed, match="SIYU_SMTP_HOST"):
        registry.get("email")


def test_channels_are_built_from_settings(env: Env) -> None:
    with pytest.raises(ValidationFailed, match="SIYU_WEBHOOK_URL, SIYU_WEBHOOK_SECRET"):
        registry.get("webhook")
    env(webhook_url="http://127.0.0.1:9/hook", webhook_secret="s3cret", channel_timeout_s=2.5)
    channel = registry.get("webhook")
    assert isinstance(channel, WebhookChannel) and channel.url == "http://127.0.0.1:9/hook"


def test_custom_channels_can_be_registered() -> None:
    class Pigeon:
        name = "pigeon"

        def send(self, message: OutboundMessage) -> SendResult:
            return SendResult.sent("coo")

    registry.register("pigeon", Pigeon, replace=True)
    results = send_all(registry.get("pigeon"), [message(), message(idempotency_key="2")])
    assert [r.provider_message_id for r in results] == ["coo", "coo"]


def test_retry_after_header(frozen_clock: FrozenClock) -> None:
    assert retry_after_seconds("120", 5) == 120
    assert retry_after_seconds(None, 5) == 5
    assert retry_after_seconds("soon", 5) == 5
    assert retry_after_seconds("Sun, 01 Nov 2026 12:01:30 GMT", 5) == 90  # the frozen clock is 12:00 UTC
