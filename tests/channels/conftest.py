"""Fixtures: fake providers, settings from the environment, and a clean channel registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from siyu.channels import registry
from siyu.channels.base import OutboundMessage
from siyu.core.settings import get_settings
from tests.fixtures.fake_providers import fake_aliyun, fake_tencent, fake_wecom

__all__ = ["fake_aliyun", "fake_tencent", "fake_wecom"]

Env = Callable[..., None]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """`env(webhook_url=…)` sets SIYU_WEBHOOK_URL and reloads settings; undone after the test."""

    def set_env(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"SIYU_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    registry.reset()
    yield
    registry.reset()


def message(**overrides: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "channel": "memory",
        "recipient": "13912345678",
        "customer_id": 7,
        "purpose": "service",
        "idempotency_key": "journey-1:step-2:customer-7",
        "body": "您的订单已发货",
    }
    fields.update(overrides)
    return OutboundMessage.model_validate(fields)
