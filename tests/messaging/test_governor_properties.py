"""Hypothesis: budgets and quotas are never exceeded in any local day or week whatever the order of
candidates; a deferred slot is allowed by every rule; transactional messages go when consent allows."""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.messaging.governor import decide
from siyu.messaging.localtime import in_window, local_date, zone
from siyu.messaging.policy import Candidate, ConsentView, ContactHistory, Policy, SentMessage
from siyu.messaging.reasons import Reason

BASE = datetime(2024, 3, 4, tzinfo=UTC)  # four weeks from here cross the US and EU DST changes
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"]
CHANNELS = ["wecom", "sms_aliyun", "sms_tencent", "email"]
PURPOSES = ["marketing", "service", "transactional"]
STATUSES = ["granted", "denied", "unsubscribed"]

minutes = st.integers(min_value=0, max_value=28 * 24 * 60)
hhmm = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    per_day = draw(st.integers(1, 3))
    return Policy(
        timezone=draw(st.sampled_from(ZONES)),
        marketing_per_day=per_day,
        marketing_per_week=draw(st.integers(per_day, 7)),
        quiet_start=draw(hhmm),
        quiet_end=draw(hhmm),
        daily_quotas={"wecom_mass": draw(st.integers(1, 2))},
    )


@st.composite
def candidates(draw: st.DrawFn, key: str) -> Candidate:
    created = BASE + timedelta(minutes=draw(minutes))
    channel = draw(st.sampled_from(CHANNELS))
    expiry = draw(st.one_of(st.none(), st.integers(1, 72)))
    return Candidate(
        key=key,
        customer_id=1,
        channel=channel,
        purpose=draw(st.sampled_from(PURPOSES)),
        created_at=created,
        expires_at=None if expiry is None else created + timedelta(hours=expiry),
        urgent=draw(st.booleans()),
        mass=channel == "wecom" and draw(st.booleans()),
        timezone=draw(st.sampled_from([None, *ZONES])),
    )


consents = st.lists(
    st.tuples(
        st.sampled_from(["any", "wecom", "sms", "email"]),
        st.sampled_from(PURPOSES),
        st.sampled_from(STATUSES),
    ),
    max_size=4,
).map(ConsentView.of)

histories = st.lists(
    st.builds(
        SentMessage,
        at=minutes.map(lambda m: BASE + timedelta(minutes=m)),
        channel=st.sampled_from(CHANNELS),
        purpose=st.sampled_from(PURPOSES),
        mass=st.booleans(),
    ),
    max_size=12,
).map(lambda sent: ContactHistory(tuple(sent)))


def exempt_from_quiet(c: Candidate) -> bool:
    return c.purpose == "transactional" or (c.purpose == "service" and c.urgent)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), batch=st.lists(st.integers(0, 10**6), min_size=1, max_size=25), data=st.data())
def test_simulated_weeks_never_exceed_a_budget(policy: Policy, batch: list[int], data: st.DataObject) -> None:
    tz_name = data.draw(st.sampled_from(ZONES))
    cands = [data.draw(candidates(f"m{i}")) for i in range(len(batch))]
    cands = [Candidate(**{**c.__dict__, "timezone": tz_name}) for c in cands]  # one customer, one zone
    tz = zone(tz_name)
    queue = [(c.created_at, batch[i], i) for i, c in enumerate(cands)]  # ties: in a drawn order
    heapq.heapify(queue)
    history, final = ContactHistory(), {}
    for _ in range(10_000):
        if not queue:
            break
        now, order, idx = heapq.heappop(queue)
        c = cands[idx]
        d = decide(c, history, ConsentView(), policy, now)
        assert d.message_zh and d.message_en and isinstance(d.reason, Reason)
        if d.outcome == "defer":
            assert d.at is not None and d.at > now
            heapq.heappush(queue, (d.at, order, idx))
            continue
        final[idx] = d
        if d.outcome == "send":
            assert d.at == now
            history = history.with_sent(SentMessage(now, c.channel, c.purpose, c.mass))
            if not exempt_from_quiet(c):
                assert not in_window(now, policy.quiet_start, policy.quiet_end, tz)
            if c.expires_at is not None:
                assert now <= c.expires_at
    assert len(final) == len(cands), "every message ends sent or dropped, none is lost"

    days: Counter[object] = Counter()
    weeks: Counter[object] = Counter()
    quotas: Counter[object] = Counter()
    for s in history.sent:
        day = local_date(s.at, tz)
        if s.purpose == "marketing":
            days[day] += 1
            weeks[day.isocalendar()[:2]] += 1
        if s.quota_key in policy.daily_quotas:
            quotas[day] += 1
    assert max(days.values(), default=0) <= policy.marketing_per_day
    assert max(weeks.values(), default=0) <= policy.marketing_per_week
    assert max(quotas.values(), default=0) <= policy.daily_quotas["wecom_mass"]


@settings(max_examples=200, deadline=None)
@given(policy=policies(), c=candidates("x"), history=histories, consent=consents, now=minutes)
def test_a_deferred_slot_is_allowed_by_every_rule(
    policy: Policy, c: Candidate, history: ContactHistory, consent: ConsentView, now: int
) -> None:
    at = BASE + timedelta(minutes=now)
    d = decide(c, history, consent, policy, at)
    assert d.message_zh and d.message_en
    if d.outcome == "defer":
        assert d.at is not None and d.at > at
        again = decide(c, history, consent, policy, d.at)
        assert (again.outcome, again.reason) == ("send", Reason.ALLOWED)
        if c.expires_at is not None:
            assert d.at <= c.expires_at
    elif d.outcome == "send":
        assert d.at == at and d.blocked_by == ()
    else:
        assert d.at is None


@settings(max_examples=150, deadline=None)
@given(policy=policies(), c=candidates("t"), history=histories, consent=consents, now=minutes)
def test_transactional_goes_now_whenever_consent_allows(
    policy: Policy, c: Candidate, history: ContactHistory, consent: ConsentView, now: int
) -> None:
    c = Candidate(**{**c.__dict__, "purpose": "transactional", "mass": False, "expires_at": None})
    d = decide(c, history, consent, policy, BASE + timedelta(minutes=now))
    if consent.status(c.channel, "transactional") in (None, "granted"):
        assert (d.outcome, d.reason) == ("send", Reason.ALLOWED)
    else:
        assert d.outcome == "drop" and d.reason in (Reason.CONSENT_DENIED, Reason.UNSUBSCRIBED)


@settings(max_examples=100, deadline=None)
@given(policy=policies(), c=candidates("u"), history=histories, now=minutes)
def test_a_refusal_on_the_channel_always_drops(
    policy: Policy, c: Candidate, history: ContactHistory, now: int
) -> None:
    consent = ConsentView.of([(c.family, c.purpose, "unsubscribed")])
    d = decide(c, history, consent, policy, BASE + timedelta(minutes=now))
    assert (d.outcome, d.reason) == ("drop", Reason.UNSUBSCRIBED)
