"""Every metric on the fixture brand (tests/analytics/brand.py) equals the value worked out by hand.

Periods are brand-local (Asia/Shanghai). Money is in minor units (分)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from siyu.analytics import acquisition, metrics
from siyu.analytics.definitions import Options
from siyu.analytics.population import Filters
from siyu.core.errors import NotFound, ValidationFailed
from tests.analytics.brand import build

OCT1, OCT31, NOV1, NOV30 = date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 30)


def run(
    session: Session, name: str, start: date = OCT1, end: date = NOV30, g: str = "month", **kw: Any
) -> Any:
    options = kw.pop("options", None)
    filters = Filters(**kw) if kw else None
    return metrics.compute(
        session, name, start=start, end=end, granularity=g, filters=filters, options=options
    )  # type: ignore[arg-type]


def monthly(result: dict[str, Any]) -> list[Any]:
    return [p["value"] for p in result["series"]]


def breakdown(result: dict[str, Any]) -> dict[str, Any]:
    return {b["key"]: b["value"] for b in result["breakdown"]}


def test_customers_and_activity(session: Session) -> None:
    build(session)
    new = run(session, "new_customers")
    # Oct: u1 u2 u3 u4 u7; Nov: u5 u6; u8/u9 were first seen in June/July
    assert (new["value"], monthly(new)) == (7, [5, 2])
    # u2's first event is Oct 1 16:30 UTC = Oct 2 00:30 in Shanghai: one new customer on each of Oct 1, 2, 3
    assert monthly(run(session, "new_customers", OCT1, date(2026, 10, 3), "day")) == [1, 1, 1]
    active = run(session, "active_customers")
    # message reactions (system events) count as activity; unsubscribing (u9) does not
    assert (active["value"], monthly(active)) == (8, [5, 6])
    # Oct: u1 2 orders, u2 view+order+refund+survey, u3 order, u4 view+complaint+survey, u7 view = 11
    # Nov: u1 open+click+survey, u3 order+refund+2 group+reply+survey, u5 order+cancel,
    #      u6 3 orders+2 group+survey, u7 click+survey, u8 open+survey = 21
    assert monthly(run(session, "interactions")) == [11, 21]
    complaints = run(session, "complaint_rate")
    assert (complaints["value"], monthly(complaints)) == (pytest.approx(1 / 8), [pytest.approx(1 / 5), 0])
    # active customer-days: Oct 10 over 31 days, Nov 17 over 30 days
    assert monthly(run(session, "dau")) == [pytest.approx(10 / 31), pytest.approx(17 / 30)]


def test_dau_wau_mau_stickiness_on_one_day(session: Session) -> None:
    build(session)
    nov10 = date(2026, 11, 10)

    def on(name: str) -> Any:
        return run(session, name, nov10, nov10, "day")["value"]

    assert on("dau") == 2  # u1 opened/clicked, u3 replied (sends and receipts are not activity)
    assert on("wau") == 3  # Nov 4–10: u1, u3, u6
    # Oct 12–Nov 10: u1, u3, u4 (complaint on Oct 12, the first day of the window), u5, u6, u7
    assert on("mau") == 6
    assert on("stickiness") == pytest.approx(2 / 6)


# Every customer's active days, read off the fixture by hand (orders, views, surveys, group messages,
# message reactions; not identify calls, sends, receipts, journey entries or unsubscribing).
ACTIVE_DAYS = {
    "u1": ["2026-10-01", "2026-10-15", "2026-11-10", "2026-11-15"],
    "u2": ["2026-10-02", "2026-10-05", "2026-10-06"],
    "u3": ["2026-10-03", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-10", "2026-11-15"],
    "u4": ["2026-10-10", "2026-10-12", "2026-10-13"],
    "u5": ["2026-11-01"],
    "u6": ["2026-11-05", "2026-11-06", "2026-11-07", "2026-11-20", "2026-11-21"],
    "u7": ["2026-10-20", "2026-11-11", "2026-11-12"],
    "u8": ["2026-06-01", "2026-11-12", "2026-11-13"],
    "u9": ["2026-07-01"],
}


@pytest.mark.parametrize("metric", ["dau", "wau", "mau"])
def test_trailing_windows_equal_brute_force(session: Session, metric: str) -> None:
    build(session)
    window = {"dau": 1, "wau": 7, "mau": 30}[metric]
    active = {u: {date.fromisoformat(d) for d in days} for u, days in ACTIVE_DAYS.items()}
    result = run(session, metric, date(2026, 9, 15), NOV30, "day")
    for point in result["series"]:
        day = date.fromisoformat(point["period"])
        expected = sum(any(0 <= (day - d).days < window for d in days) for days in active.values())
        assert point["value"] == expected, (metric, day)


def test_group_activity(session: Session) -> None:
    build(session)
    result = run(session, "group_activity")
    assert (result["value"], monthly(result), breakdown(result)) == (4, [0, 4], {"g1": 3, "g2": 1})
    assert run(session, "group_active_customers")["value"] == 2


def test_order_metrics(session: Session) -> None:
    build(session)
    # counted: o1 100, o2 50, o4 80 in Oct (o3 fully refunded); o5 120−20, o7 60, o8 40, o9 100 in Nov
    # (o6 cancelled)
    assert monthly(run(session, "orders")) == [3, 4]
    gmv = run(session, "gmv")
    assert (gmv["value"], monthly(gmv)) == (53000, [23000, 30000])
    assert monthly(run(session, "aov")) == [pytest.approx(23000 / 3), 7500]
    assert run(session, "aov")["value"] == pytest.approx(53000 / 7)
    assert monthly(run(session, "buyers")) == [2, 2]
    repurchase = run(session, "repurchase_rate")
    # Oct: u1 twice, u3 once; Nov: u6 three times, u3 once; whole period: u1, u3, u6 all twice or more
    assert (repurchase["value"], monthly(repurchase)) == (1.0, [0.5, 0.5])
    frequency = run(session, "purchase_frequency")
    assert (frequency["value"], monthly(frequency)) == (pytest.approx(7 / 3), [1.5, 2.0])
    usd = run(session, "gmv", options=Options(currency="USD"))
    assert usd["value"] == 0


def test_realised_ltv(session: Session) -> None:
    build(session)
    ltv = run(session, "realised_ltv")
    # Oct cohort u1 150 + u2 0 + u3 (80 + 100) + u4 0 + u7 0 = 330.00 over 5; Nov u5 0 + u6 200.00 over 2
    assert monthly(ltv) == [6600, 10000]
    assert ltv["value"] == pytest.approx(53000 / 7)
    assert (ltv["numerator"], ltv["denominator"]) == (53000, 7)


def _spend(session: Session) -> None:
    for channel, start, end, amount in (
        ("web", OCT1, OCT31, 310000),  # 10,000 a day
        ("wecom", OCT1, NOV30, 610000),  # 10,000 a day over 61 days
        ("live_code:LC1", OCT1, date(2026, 10, 10), 100000),
    ):
        acquisition.add_spend(
            session,
            channel=channel,
            period_start=start,
            period_end=end,
            amount_minor=amount,
            currency_code="CNY",
            note=None,
            actor="test",
        )
    session.commit()


def test_cac_and_ltv_cac(session: Session) -> None:
    build(session)
    _spend(session)
    cac = run(session, "cac")
    # Oct: 310,000 + 310,000 + 100,000 over 5 new customers; Nov: 300,000 (wecom) over 2
    assert monthly(cac) == [144000, 150000]
    assert cac["value"] == pytest.approx(1020000 / 7)
    # web: u1 u2 u7 u6; wecom: u3 u4 u5; live code LC1: u1 u3
    assert breakdown(cac) == {
        "live_code:LC1": 50000,
        "web": 77500,
        "wecom": pytest.approx(610000 / 3),
    }
    ratio = run(session, "ltv_cac")
    assert ratio["value"] == pytest.approx(53000 / 1020000)
    # revenue of new customers: web 150 + 0 + 0 + 200; wecom 180; LC1 150 + 180 (yuan)
    assert breakdown(ratio) == {
        "live_code:LC1": pytest.approx(0.33),
        "web": pytest.approx(35000 / 310000),
        "wecom": pytest.approx(18000 / 610000),
    }
    web_only = run(session, "cac", source="web")
    assert web_only["value"] == 77500  # the source filter keeps that channel's spend and customers


def test_message_metrics(session: Session) -> None:
    build(session)
    sent = run(session, "messages_sent")
    assert (sent["value"], breakdown(sent)) == (6, {"sms": 5, "wecom": 1})
    # delivered: m1 m3 m4 m5 by receipt, m2 by its reply; m6 never
    delivery = run(session, "delivery_rate")
    assert (delivery["value"], breakdown(delivery)) == (pytest.approx(5 / 6), {"sms": 0.8, "wecom": 1.0})
    opened = run(session, "open_rate")
    assert (opened["value"], breakdown(opened)) == (0.4, {"sms": 0.5, "wecom": 0.0})
    clicked = run(session, "click_rate")
    assert (clicked["value"], breakdown(clicked)) == (0.4, {"sms": 0.5, "wecom": 0.0})
    replied = run(session, "reply_rate")
    assert (replied["value"], breakdown(replied)) == (0.2, {"sms": 0.0, "wecom": 1.0})
    assert monthly(delivery) == [None, pytest.approx(5 / 6)]  # nothing sent in October
    unsubscribed = run(session, "unsubscribe_rate")
    # u9 over customers sent a message: u1 u3 u4 u7 u8 u9 (sms: all but u3; wecom: u3)
    assert (unsubscribed["value"], breakdown(unsubscribed)) == (
        pytest.approx(1 / 6),
        {"sms": 0.2, "wecom": 0},
    )
    participation = run(session, "campaign_participation")
    # engaged u1 u3 u7 u8 over reached u1 u3 u4 u7 u8 u9
    assert (participation["value"], breakdown(participation)) == (
        pytest.approx(4 / 6),
        {"sms": 0.6, "wecom": 1.0},
    )


def test_journey_conversion(session: Session) -> None:
    build(session)
    conversion = run(session, "journey_conversion")
    # j1: u6 entered Nov 5 08:00 and ordered at 09:00; u1, u3 (ordered before entering), u7 did not; j2: u4 no
    assert (conversion["value"], monthly(conversion), breakdown(conversion)) == (
        0.2,
        [0, 0.25],
        {"j1": 0.25, "j2": 0},
    )
    clicks = run(session, "journey_conversion", options=Options(goal="Message Clicked"))
    assert breakdown(clicks)["j1"] == 0.5  # u1 clicked Nov 10, u7 Nov 11 (within 7 days of Nov 9)
    # the runner's own "Journey Converted" counts for the journey it names only (u1's is for j3)
    converted = run(session, "journey_conversion", options=Options(goal="Journey Converted"))
    assert breakdown(converted) == {"j1": 0.25, "j2": 0}


def test_wakeup_rate(session: Session) -> None:
    build(session)
    # first reached (Message Sent) on Nov 10: u1, u3, u4, u7 (active within 90 days), u8, u9 (silent since
    # Jun/Jul); u8 opened two days later; u9 only unsubscribed, which is not waking up
    assert run(session, "wakeup_rate")["value"] == 0.5
    # 20-day silence: u1 (last Oct 15), u4 (Oct 13) and u7 (Oct 20) are silent too; u1 and u7 acted
    assert run(session, "wakeup_rate", options=Options(silent_days=20))["value"] == 0.6
    # a one-day window misses u8's open on Nov 12 20:00
    assert run(session, "wakeup_rate", options=Options(window_days=1))["value"] == 0


def test_nps(session: Session) -> None:
    build(session)
    nps = run(session, "nps")
    # Oct: u4 3 (u2 "abc" ignored) → −100; Nov: u1 10, u3 9, u6 7, u7 "8" (u8 11 ignored) → 50
    assert (nps["value"], monthly(nps)) == (20, [-100, 50])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "web"}, [3, 1]),
        ({"source": "wecom"}, [2, 1]),
        ({"advisor": "a1"}, [2, 0]),
        ({"department": "West"}, [2, 0]),
        ({"segment": "vip"}, [2, 0]),
        ({"live_code": "LC1"}, [2, 0]),
        ({"live_code": "LC2"}, [0, 1]),
        ({"source": "web", "live_code": "LC1"}, [1, 0]),
    ],
)
def test_filters(session: Session, filters: dict[str, str], expected: list[int]) -> None:
    build(session)
    assert monthly(run(session, "new_customers", **filters)) == expected


def test_filters_narrow_order_metrics(session: Session) -> None:
    build(session)
    web = run(session, "gmv", source="web")
    assert monthly(web) == [15000, 20000]  # u1 (o1 + o2) in Oct, u6 (o7 + o8 + o9) in Nov


def test_bad_requests_name_the_field(session: Session) -> None:
    build(session)
    with pytest.raises(NotFound) as unknown:
        run(session, "nope")
    assert "gmv" in unknown.value.message and unknown.value.field == "name"
    with pytest.raises(ValidationFailed) as backwards:
        run(session, "gmv", NOV30, OCT1)
    assert backwards.value.field == "from"
    for field, value in (
        ("source", "tmall"),
        ("segment", "nope"),
        ("advisor", "zz"),
        ("department", "North"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            run(session, "gmv", **{field: value})
        assert bad.value.field == field
    with pytest.raises(ValidationFailed) as window:
        run(session, "wakeup_rate", options=Options(window_days=0))
    assert window.value.field == "window_days"
