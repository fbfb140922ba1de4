"""Pure lifecycle rules: examples, and properties (a function of facts, time only moves forward through
dormant → churned, activity reactivates, stages change only at the boundaries the sweep looks for)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.lifecycle.stages import LABELS, Current, Facts, Rules, stage_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = Rules(new_days=30, dormant_days=30, churn_days=180, cycle_factor=1.5)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def buyer(
    first: float, last: float, orders: int, seen: float | None = None, cycle: int | None = None
) -> Facts:
    return Facts(day(first), day(seen if seen is not None else last), day(first), day(last), orders, cycle)


def test_a_customer_walks_through_every_stage() -> None:
    walk = []
    current: Current | None = None

    def at(now: float, facts: Facts) -> None:
        nonlocal current
        d = stage_for(facts, current, day(now), RULES)
        walk.append((d.stage, (d.since - T0).days))
        current = Current(d.stage, d.since)

    at(0, Facts(first_seen_at=day(0), last_seen_at=day(0)))
    at(1, Facts(day(0), day(1), day(1), day(1), 1))  # first order
    at(10, Facts(day(0), day(10), day(1), day(10), 2))  # second order
    at(39, Facts(day(0), day(10), day(1), day(10), 2))
    at(40, Facts(day(0), day(10), day(1), day(10), 2))  # 30 days idle
    at(189, Facts(day(0), day(10), day(1), day(10), 2))
    at(190, Facts(day(0), day(10), day(1), day(10), 2))  # 180 days idle
    at(200, Facts(day(0), day(200), day(1), day(10), 2))  # a visit
    at(229, Facts(day(0), day(225), day(1), day(10), 2))
    at(230, Facts(day(0), day(225), day(1), day(10), 2))  # 30 days after coming back
    assert walk == [
        ("prospect", 0),
        ("new", 1),
        ("returning", 10),
        ("returning", 10),
        ("dormant", 40),
        ("dormant", 40),
        ("churned", 190),
        ("reactivated", 200),
        ("reactivated", 200),
        ("returning", 230),
    ]


def test_one_order_buyer_becomes_returning_after_the_new_window_if_still_active() -> None:
    facts = Facts(day(0), day(25), day(0), day(0), 1)
    assert stage_for(facts, None, day(29), RULES).stage == "new"
    later = stage_for(facts, Current("new", day(0)), day(30), RULES)
    assert (later.stage, later.since) == ("returning", day(30))
    assert "one order" in later.reason


def test_consumption_cycle_delays_dormancy() -> None:
    facts = buyer(0, 0, 1, seen=0, cycle=60)  # 60-day product: dormant after 90 days, not 30
    assert stage_for(facts, None, day(89), RULES).stage == "returning"
    dormant = stage_for(facts, Current("returning", day(30)), day(90), RULES)
    assert (dormant.stage, dormant.since) == ("dormant", day(90))
    assert "consumption cycle 60 days" in dormant.reason
    short = buyer(0, 0, 1, seen=0, cycle=10)  # 15 days < D: D applies
    assert stage_for(short, None, day(30), RULES).stage == "dormant"
    long = buyer(0, 0, 1, seen=0, cycle=150)  # 225 days > L: churn waits for dormancy
    assert stage_for(long, None, day(224), RULES).stage == "returning"
    assert stage_for(long, None, day(225), RULES).stage == "churned"


def test_reason_says_what_brought_a_customer_back() -> None:
    back = stage_for(buyer(0, 100, 2, seen=100), Current("churned", day(80)), day(101), RULES)
    assert (back.stage, back.since, back.reason) == (
        "reactivated",
        day(100),
        "bought again after being churned",
    )
    visit = stage_for(buyer(0, 10, 2, seen=100), Current("dormant", day(40)), day(101), RULES)
    assert visit.reason == "interacted again after being dormant"


def test_a_longer_dormant_limit_is_not_a_comeback() -> None:
    facts = buyer(0, 10, 2, seen=10)  # dormant since day 40 under D = 30, no activity since
    longer = Rules(new_days=30, dormant_days=60, churn_days=180)
    d = stage_for(facts, Current("dormant", day(40)), day(50), longer)
    assert (d.stage, d.since) == ("returning", day(40))


# -- properties ----------------------------------------------------------------------------------------

rules = st.builds(
    lambda n, d, extra, f: Rules(n, d, d + extra, f),
    st.integers(1, 60),
    st.integers(1, 90),
    st.integers(1, 300),
    st.sampled_from([1.0, 1.5, 2.0]),
)


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    seen0 = draw(st.floats(0, 50))
    orders = draw(st.integers(0, 4))
    cycle = draw(st.none() | st.integers(1, 200))
    if orders == 0:
        return Facts(day(seen0), day(seen0 + draw(st.floats(0, 50))), None, None, 0, cycle)
    first = seen0 + draw(st.floats(0, 50))
    last = first if orders == 1 else first + draw(st.floats(0, 100))
    seen = last + draw(st.floats(0, 100))
    return Facts(day(seen0), day(seen), day(first), day(last), orders, cycle)


currents = st.none() | st.builds(
    lambda s, t: Current(s, day(t)), st.sampled_from(sorted(LABELS)), st.floats(0, 200)
)


def _end(f: Facts) -> float:
    times = [t for t in (f.first_seen_at, f.last_seen_at, f.first_order_at, f.last_order_at) if t]
    return (max(times) - T0).total_seconds() / 86400


@settings(max_examples=300, deadline=None)
@given(facts(), currents, rules, st.floats(0, 500))
def test_stage_is_a_function_of_facts_current_and_now(
    f: Facts, cur: Current | None, r: Rules, dt: float
) -> None:
    now = day(_end(f) + dt)
    a, b = stage_for(f, cur, now, r), stage_for(f, cur, now, r)
    assert a == b and a.stage in LABELS and a.reason
    assert a.since <= max(now, cur.since if cur else now)
    if cur is not None:
        assert a.since >= cur.since or a.since == now
        if a.stage == cur.stage:
            assert a.since == cur.since
    again = stage_for(f, Current(a.stage, a.since), now, r)  # a fixed point
    assert (again.stage, again.since) == (a.stage, a.since)
    assert (f.orders_count == 0) == (a.stage == "prospect")


RANK = {"prospect": 0, "new": 1, "reactivated": 1, "returning": 1, "dormant": 2, "churned": 3}


@settings(max_examples=300, deadline=None)
@given(facts(), rules, st.lists(st.floats(0, 60), min_size=2, max_size=12))
def test_time_only_moves_forward_through_dormant_and_churned(f: Facts, r: Rules, steps: list[float]) -> None:
    t = _end(f)
    current: Current | None = None
    seen: list[str] = []
    for step in steps:
        t += step
        d = stage_for(f, current, day(t), r)
        if current is not None:
            assert RANK[d.stage] >= RANK[current.stage], (current, d)
            assert not (current.stage == "returning" and d.stage in ("new", "reactivated"))
        seen.append(d.stage)
        current = Current(d.stage, d.since)
    assert "reactivated" not in seen  # without new activity nobody comes back


@settings(max_examples=300, deadline=None)
@given(facts(), rules, st.floats(0, 400), st.booleans(), st.sampled_from(["dormant", "churned"]))
def test_activity_after_dormancy_reactivates(f: Facts, r: Rules, gap: float, buys: bool, was: str) -> None:
    if f.orders_count == 0:
        return
    now = day(_end(f) + gap)
    back = Facts(
        f.first_seen_at,
        now,
        f.first_order_at,
        now if buys else f.last_order_at,
        f.orders_count + int(buys),
        f.cycle_days,
    )
    d = stage_for(back, Current(was, day(_end(f))), now, r)
    assert (d.stage, d.since) == ("reactivated", now)


def _boundaries(f: Facts, cur: Current, r: Rules) -> list[datetime]:
    out = []
    if f.last_active is not None:
        out.append(f.last_active + timedelta(days=r.dormant_days_for(f.cycle_days)))
        out.append(f.last_active + timedelta(days=r.churn_days_for(f.cycle_days)))
    if f.first_order_at is not None:
        out.append(f.first_order_at + r.new_window)
    if cur.stage == "reactivated":
        out.append(cur.since + r.new_window)
    return out


@settings(max_examples=500, deadline=None)
@given(facts(), currents, rules, st.floats(0, 400), st.floats(0, 400))
def test_stages_change_with_time_only_at_the_boundaries_the_sweep_queries(
    f: Facts, cur: Current | None, r: Rules, a: float, b: float
) -> None:
    t1 = day(_end(f) + min(a, b))
    t2 = day(_end(f) + max(a, b))
    first = stage_for(f, cur, t1, r)
    held = Current(first.stage, first.since)
    if any(t1 < edge <= t2 for edge in _boundaries(f, held, r)):
        return
    assert stage_for(f, held, t2, r).stage == first.stage
