"""Channels by name: a factory per name builds the channel from settings; tests and callers may install
a ready instance instead (e.g. a `MemoryChannel`, or a client pointed at a local fake provider).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from siyu.core.errors import NotFound, ValidationFailed

from .base import Channel

ChannelFactory = Callable[[], Channel]

_factories: dict[str, ChannelFactory] = {}
_instances: dict[str, Channel] = {}
_lock = threading.Lock()


def register(name: str, factory: ChannelFactory, *, replace: bool = False) -> None:
    """Make `name` available; `factory()` is called on first `get(name)`."""
    with _lock:
        if name in _factories and not replace:
            raise ValidationFailed(f"channel {name!r} is already registered", field="channel")
        _factories[name] = factory
        _instances.pop(name, None)


def install(channel: Channel, *, as_name: str | None = None) -> None:
    """Use this instance for `as_name` (default `channel.name`) from now on; it need not have a factory."""
    with _lock:
        _instances[as_name or channel.name] = channel


def get(name: str) -> Channel:
    """The channel called `name`, built once from settings; NotFound for an unknown name."""
    with _lock:
        existing = _instances.get(name)
        if existing is not None:
            return existing
        factory = _factories.get(name)
    if factory is None:
        raise NotFound(f"no channel called {name!r} (known: {', '.join(names())})", field="channel")
    channel = factory()
    with _lock:
        return _instances.setdefault(name, channel)


def names() -> list[str]:
    with _lock:
        return sorted(set(_factories) | set(_instances))


def reset() -> None:
    """Forget built and installed instances (after a settings change, or between tests)."""
    with _lock:
        instances = list(_instances.values())
        _instances.clear()
    for channel in instances:
        close = getattr(channel, "close", None)
        if callable(close):
            close()


def _builtin() -> None:
    # Imported lazily so that importing the registry does not import httpx/smtplib users.
    def memory() -> Channel:
        from .memory import MemoryChannel

        return MemoryChannel()

    def wecom() -> Channel:
        from .wecom import WeComChannel

        return WeComChannel.from_settings()

    def sms_aliyun() -> Channel:
        from .sms_aliyun import AliyunSmsChannel

        return AliyunSmsChannel.from_settings()

    def sms_tencent() -> Channel:
        from .sms_tencent import TencentSmsChannel

        return TencentSmsChannel.from_settings()

    def email() -> Channel:
        from .email import EmailChannel

        return EmailChannel.from_settings()

    def webhook() -> Channel:
        from .webhook import WebhookChannel

        return WebhookChannel.from_settings()

    for name, factory in {
        "memory": memory,
        "wecom": wecom,
        "sms_aliyun": sms_aliyun,
        "sms_tencent": sms_tencent,
        "email": email,
        "webhook": webhook,
    }.items():
        register(name, factory)


_builtin()
