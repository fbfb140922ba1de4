"""What the contact-pressure governor decides about: the candidate message, the customer's recent sends,
their consent, and the operator's policy. Plain data, no I/O; the outbox loads it, `governor` decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from types import MappingProxyType
from typing import Literal

from siyu.core.settings import Settings

Purpose = Literal["transactional", "service", "marketing"]
PURPOSES: tuple[Purpose, ...] = ("transactional", "service", "marketing")
ConsentStatus = Literal["granted", "denied", "unsubscribed"]
PURPOSE_RANK: Mapping[str, int] = MappingProxyType({"transactional": 0, "service": 1, "marketing": 2})
ANY_CHANNEL = "any"


def channel_family(channel: str) -> str:
    """The consent/budget channel of a registry channel: `sms_aliyun` and `sms_tencent` are `sms`."""
    return "sms" if channel == "sms" or channel.startswith("sms_") else channel


@dataclass(frozen=True)
class Candidate:
    """One message a journey (or an operator) wants to send to one customer."""

    key: str  # idempotency key of the message, e.g. journey:{run}:{node}:{attempt}
    customer_id: int
    channel: str  # registry name (wecom, sms_aliyun, email, webhook, memory) or family (sms)
    purpose: Purpose
    created_at: datetime
    expires_at: datetime | None = None  # None: defer as long as needed (bounded by max_defer_days)
    urgent: bool = False  # a service message that may break quiet hours (not budgets: it has none)
    mass: bool = False  # WeCom mass send (add_msg_template): counts against the platform's daily quota
    timezone: str | None = None  # customer's IANA zone; None = the policy's (brand) zone

    @property
    def family(self) -> str:
        return channel_family(self.channel)

    @property
    def quota_key(self) -> str:
        return f"{self.family}_mass" if self.mass else self.family


@dataclass(frozen=True)
class SentMessage:
    """A message already handed to a channel (whatever its delivery outcome)."""

    at: datetime
    channel: str
    purpose: Purpose
    mass: bool = False

    @property
    def quota_key(self) -> str:
        family = channel_family(self.channel)
        return f"{family}_mass" if self.mass else family


@dataclass(frozen=True)
class ContactHistory:
    """A customer's sends, at least the last 8 days (enough for the current local day and ISO week)."""

    sent: tuple[SentMessage, ...] = ()

    def with_sent(self, message: SentMessage) -> ContactHistory:
        return ContactHistory((*self.sent, message))

    def count(
        self, start: datetime, end: datetime, *, purpose: str | None = None, quota: str | None = None
    ) -> int:
        """Sends in [start, end), optionally only one purpose or one quota key."""
        return sum(
            1
            for s in self.sent
            if start <= s.at < end
            and (purpose is None or s.purpose == purpose)
            and (quota is None or s.quota_key == quota)
        )


@dataclass(frozen=True)
class ConsentView:
    """Consent per (channel family, purpose) as stored in `consents`; channel `any` covers every channel,
    a channel's own row wins over `any`. Missing = no recorded choice."""

    statuses: Mapping[tuple[str, str], ConsentStatus] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, ConsentStatus]]) -> ConsentView:
        return cls({(channel_family(channel), purpose): status for channel, purpose, status in rows})

    def status(self, channel: str, purpose: str) -> ConsentStatus | None:
        own = self.statuses.get((channel_family(channel), purpose))
        return own if own is not None else self.statuses.get((ANY_CHANNEL, purpose))


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Policy:
    """Operator-set limits; `from_settings` reads the `governor_*` settings."""

    timezone: str = "Asia/Shanghai"
    marketing_per_day: int = 2
    marketing_per_week: int = 5
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    daily_quotas: Mapping[str, int] = field(default_factory=lambda: {"wecom_mass": 1})
    marketing_requires_opt_in: bool = False
    max_defer_days: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            timezone=settings.timezone,
            marketing_per_day=settings.governor_marketing_per_day,
            marketing_per_week=settings.governor_marketing_per_week,
            quiet_start=parse_hhmm(settings.governor_quiet_start),
            quiet_end=parse_hhmm(settings.governor_quiet_end),
            daily_quotas={"wecom_mass": settings.governor_wecom_mass_per_day},
            marketing_requires_opt_in=settings.governor_marketing_opt_in,
            max_defer_days=settings.governor_max_defer_days,
        )


def dispatch_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Order in which a batch for one customer should meet the governor: transactional, then service,
    then marketing; urgent first; oldest first. (The governor decides one message at a time.)"""
    return sorted(candidates, key=lambda c: (PURPOSE_RANK[c.purpose], not c.urgent, c.created_at, c.key))
