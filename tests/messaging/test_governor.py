"""The governor on worked examples: quiet hours, budgets, quotas, consent, expiry, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from siyu.core.settings import Settings
from siyu.messaging.governor import decide
from siyu.messaging.policy import (
    Candidate,
    ConsentView,
    ContactHistory,
    Policy,
    SentMessage,
    dispatch_order,
)
from siyu.messaging.reasons import Reason

SH = "Asia/Shanghai"
POLICY = Policy()


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """May 2024 (Wednesday the 1st), Shanghai wall time, as UTC."""
    return datetime(2024, 5, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def msg(purpose: str = "marketing", channel: str = "wecom", **kw: object) -> Candidate:
    base: dict[str, object] = {"key": "k", "customer_id": 1, "created_at": sh(1, 8)}
    return Candidate(channel=channel, purpose=purpose, **{**base, **kw})  # type: ignore[arg-type]


def sent(
    at: datetime, purpose: str = "marketing", channel: str = "sms_aliyun", mass: bool = False
) -> SentMessage:
    return SentMessage(at, channel, purpose, mass)  # type: ignore[arg-type]


NOBODY = ContactHistory()
NO_CONSENT = ConsentView()


def test_daytime_marketing_goes_now() -> None:
    d = decide(msg(), NOBODY, NO_CONSENT, POLICY, sh(1, 10))
    assert (d.outcome, d.reason, d.at) == ("send", Reason.ALLOWED, sh(1, 10))
    assert d.message_zh and d.message_en


@pytest.mark.parametrize(
    ("purpose", "urgent", "outcome"),
    [("marketing", False, "defer"), ("service", False, "defer"), ("service", True, "send"),
     ("transactional", False, "send"), ("marketing", True, "defer")],
)  # fmt: skip
def test_quiet_hours_by_priority(purpose: str, urgent: bool, outcome: str) -> None:
    d = decide(msg(purpose, urgent=urgent), NOBODY, NO_CONSENT, POLICY, sh(1, 22, 30))
    assert d.outcome == outcome
    if outcome == "defer":
        assert d.reason == Reason.QUIET_HOURS
        assert d.at == sh(2, 9)
        assert "2024-05-02 09:00" in d.message_zh and "免打扰" in d.message_zh
        assert "quiet hours" in d.message_en


def test_early_morning_waits_until_nine_the_same_day() -> None:
    d = decide(msg(), NOBODY, NO_CONSENT, POLICY, sh(1, 6))
    assert (d.outcome, d.at) == ("defer", sh(1, 9))


def test_third_marketing_message_of_the_day_waits_for_tomorrow_morning() -> None:
    history = ContactHistory((sent(sh(1, 9, 30)), sent(sh(1, 11), channel="email")))
    d = decide(msg(), history, NO_CONSENT, POLICY, sh(1, 15))
    assert (d.outcome, d.reason, d.at) == ("defer", Reason.DAILY_BUDGET, sh(2, 9))
    assert d.blocked_by == (Reason.DAILY_BUDGET, Reason.QUIET_HOURS)  # midnight is inside quiet hours
    assert "今日营销消息已达上限(2 条)" in d.message_zh


def test_service_and_transactional_do_not_use_the_marketing_budget() -> None:
    history = ContactHistory(tuple(sent(sh(1, 9, m)) for m in (0, 1)))
    assert decide(msg("service"), history, NO_CONSENT, POLICY, sh(1, 15)).outcome == "send"
    history = ContactHistory(tuple(sent(sh(1, 9, m), purpose="service") for m in range(5)))
    assert decide(msg(), history, NO_CONSENT, POLICY, sh(1, 15)).outcome == "send"


def test_weekly_budget_counts_the_local_iso_week() -> None:
    # Mon 29 April .. Wed 1 May: five marketing messages this week already
    history = ContactHistory(
        tuple(sent(datetime(2024, 4, 29, 2, tzinfo=UTC) + timedelta(hours=12 * i)) for i in range(5))
    )
    d = decide(msg(), history, NO_CONSENT, POLICY, sh(2, 10))
    assert (d.outcome, d.reason) == ("defer", Reason.WEEKLY_BUDGET)
    assert d.at == sh(6, 9)  # Monday 6 May, after quiet hours
    assert "本周" in d.message_zh


def test_wecom_mass_quota_binds_every_purpose_but_only_mass_sends() -> None:
    history = ContactHistory((sent(sh(1, 10), purpose="service", channel="wecom", mass=True),))
    for purpose in ("marketing", "service", "transactional"):
        d = decide(msg(purpose, mass=True), history, NO_CONSENT, POLICY, sh(1, 12))
        assert (d.outcome, d.reason) == ("defer", Reason.CHANNEL_QUOTA), purpose
    assert decide(msg(purpose="transactional", mass=True), history, NO_CONSENT, POLICY, sh(1, 12)).at == sh(
        2, 0
    )
    assert decide(msg(mass=False), history, NO_CONSENT, POLICY, sh(1, 12)).outcome == "send"


def test_unsubscribed_marketing_is_dropped_but_transactional_still_goes() -> None:
    consent = ConsentView.of([("sms", "marketing", "unsubscribed")])
    d = decide(msg(channel="sms_tencent"), NOBODY, consent, POLICY, sh(1, 10))
    assert (d.outcome, d.reason) == ("drop", Reason.UNSUBSCRIBED)
    assert d.message_zh == "客户已退订 sms 渠道的营销消息"
    assert (
        decide(msg("transactional", channel="sms_aliyun"), NOBODY, consent, POLICY, sh(1, 10)).outcome
        == "send"
    )
    assert decide(msg(channel="wecom"), NOBODY, consent, POLICY, sh(1, 10)).outcome == "send"


def test_denying_a_channel_entirely_stops_even_transactional() -> None:
    consent = ConsentView.of([("email", "transactional", "denied")])
    for purpose in ("transactional", "service", "marketing"):
        d = decide(msg(purpose, channel="email"), NOBODY, consent, POLICY, sh(1, 10))
        assert (d.outcome, d.reason) == ("drop", Reason.CONSENT_DENIED), purpose


def test_any_channel_row_applies_unless_the_channel_says_otherwise() -> None:
    consent = ConsentView.of([("any", "marketing", "denied"), ("wecom", "marketing", "granted")])
    assert decide(msg(channel="sms"), NOBODY, consent, POLICY, sh(1, 10)).reason == Reason.CONSENT_DENIED
    assert decide(msg(channel="wecom"), NOBODY, consent, POLICY, sh(1, 10)).outcome == "send"


def test_opt_in_policy_needs_a_granted_row() -> None:
    policy = Policy(marketing_requires_opt_in=True)
    assert decide(msg(), NOBODY, NO_CONSENT, policy, sh(1, 10)).reason == Reason.NO_OPT_IN
    granted = ConsentView.of([("any", "marketing", "granted")])
    assert decide(msg(), NOBODY, granted, policy, sh(1, 10)).outcome == "send"
    assert decide(msg("service"), NOBODY, NO_CONSENT, policy, sh(1, 10)).outcome == "send"


def test_expiry_drops_a_deferral_that_would_come_too_late() -> None:
    d = decide(msg(expires_at=sh(1, 23, 30)), NOBODY, NO_CONSENT, POLICY, sh(1, 22))
    assert (d.outcome, d.reason, d.blocked_by) == ("drop", Reason.EXPIRES_BEFORE_SLOT, (Reason.QUIET_HOURS,))
    assert "免打扰" in d.message_zh and "2024-05-02 09:00" in d.message_zh and "23:30" in d.message_zh
    assert "after the expiry" in d.message_en
    assert decide(msg(expires_at=sh(2, 9)), NOBODY, NO_CONSENT, POLICY, sh(1, 22)).at == sh(2, 9)


def test_an_expired_message_is_dropped() -> None:
    d = decide(msg(expires_at=sh(1, 9)), NOBODY, NO_CONSENT, POLICY, sh(1, 10))
    assert (d.outcome, d.reason) == ("drop", Reason.EXPIRED)


def test_zero_budget_means_no_marketing_and_a_zero_quota_finds_no_slot() -> None:
    assert (
        decide(msg(), NOBODY, NO_CONSENT, Policy(marketing_per_day=0), sh(1, 10)).reason
        == Reason.MARKETING_OFF
    )
    d = decide(
        msg("service", mass=True), NOBODY, NO_CONSENT, Policy(daily_quotas={"wecom_mass": 0}), sh(1, 10)
    )
    assert (d.outcome, d.reason) == ("drop", Reason.NO_SLOT)
    assert "60" in d.message_en


def test_quiet_hours_follow_the_customer_zone_across_dst() -> None:
    # 2024-03-10 02:00 New York springs forward; 22:00 EST on the 9th is 03:00 UTC on the 10th.
    now = datetime(2024, 3, 10, 3, 0, tzinfo=UTC)
    d = decide(msg(timezone="America/New_York"), NOBODY, NO_CONSENT, POLICY, now)
    assert d.at == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert "2024-03-10 09:00 (America/New_York)" in d.message_en


def test_quiet_window_inside_one_day_and_an_empty_window() -> None:
    lunch = Policy(quiet_start=time(12), quiet_end=time(13, 30))
    assert decide(msg(), NOBODY, NO_CONSENT, lunch, sh(1, 12, 10)).at == sh(1, 13, 30)
    assert decide(msg(), NOBODY, NO_CONSENT, lunch, sh(1, 23)).outcome == "send"
    never = Policy(quiet_start=time(0), quiet_end=time(0))
    assert decide(msg(), NOBODY, NO_CONSENT, never, sh(1, 3)).outcome == "send"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(msg(), NOBODY, NO_CONSENT, POLICY, datetime(2024, 5, 1, 10))


def test_five_journeys_on_one_day_deliver_the_cap_and_a_transactional_still_goes() -> None:
    history = NOBODY
    outcomes = []
    batch = [msg(key=f"journey:{i}:send:1") for i in range(5)] + [msg("transactional", key="order:1")]
    for candidate in dispatch_order(batch):
        d = decide(candidate, history, NO_CONSENT, POLICY, sh(1, 10))
        outcomes.append((candidate.key, d.outcome, d.reason))
        if d.outcome == "send":
            history = history.with_sent(SentMessage(sh(1, 10), candidate.channel, candidate.purpose))
    assert outcomes[0] == ("order:1", "send", Reason.ALLOWED)
    assert [o[1] for o in outcomes[1:]] == ["send", "send", "defer", "defer", "defer"]
    assert {o[2] for o in outcomes[3:]} == {Reason.DAILY_BUDGET}


def test_dispatch_order_is_transactional_service_marketing_urgent_first() -> None:
    batch = [
        msg("marketing", key="m"),
        msg("service", key="s"),
        msg("service", key="su", urgent=True),
        msg("transactional", key="t", created_at=sh(1, 9)),
    ]
    assert [c.key for c in dispatch_order(batch)] == ["t", "su", "s", "m"]


def test_policy_from_settings() -> None:
    policy = Policy.from_settings(Settings(governor_quiet_start="22:30", governor_marketing_per_week=3))
    assert policy.quiet_start == time(22, 30) and policy.quiet_end == time(9)
    assert (policy.marketing_per_day, policy.marketing_per_week) == (2, 3)
    assert policy.daily_quotas == {"wecom_mass": 1}
    assert policy.timezone == "Asia/Shanghai"
