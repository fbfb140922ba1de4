"""The analytics API over real HTTP: metrics, cohorts, acquisition spend, alerts and experiments, with
errors that name the field and permissions enforced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.analytics.brand import build
from tests.conftest import FrozenClock
from tests.fixtures.live_server import LiveServer

PERIOD = {"from": "2026-10-01", "to": "2026-11-30"}


@pytest.fixture
def viewer(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {viewer_token}"}) as c:
        yield c


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_metrics(api: httpx.Client, session: Session) -> None:
    build(session)
    listed = api.get("/api/v1/metrics").json()["metrics"]
    names = {m["name"] for m in listed}
    assert {"gmv", "dau", "stickiness", "nps", "cac", "ltv_cac", "wakeup_rate", "journey_conversion"} <= names
    gmv = next(m for m in listed if m["name"] == "gmv")
    assert gmv["label_zh"] == "成交额 GMV" and gmv["unit"] == "minor"

    monthly = api.get("/api/v1/metrics/gmv", params={**PERIOD, "granularity": "month"}).json()
    assert monthly["value"] == 53000
    assert [(p["period"], p["value"]) for p in monthly["series"]] == [
        ("2026-10-01", 23000),
        ("2026-11-01", 30000),
    ]
    web = api.get("/api/v1/metrics/gmv", params={**PERIOD, "source": "web"}).json()
    assert web["value"] == 35000 and web["filters"] == {"source": "web"}
    rates = api.get("/api/v1/metrics/open_rate", params=PERIOD).json()
    assert rates["value"] == 0.4 and {b["key"]: b["value"] for b in rates["breakdown"]} == {
        "sms": 0.5,
        "wecom": 0,
    }
    wake = api.get("/api/v1/metrics/wakeup_rate", params={**PERIOD, "silent_days": 20}).json()
    assert wake["value"] == 0.6 and wake["options"] == {"silent_days": 20, "window_days": 7}

    cohorts = api.get("/api/v1/metrics/cohorts/retention", params={**PERIOD, "by": "first_seen"}).json()
    assert [(c["cohort"], c["size"], c["retained"]) for c in cohorts["cohorts"]] == [
        ("2026-10-01", 5, [5, 3]),
        ("2026-11-01", 2, [2]),
    ]


def test_metric_errors_name_the_field(api: httpx.Client) -> None:
    for params, field in (
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-30", "to": "2026-10-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
        ({"granularity": "year"}, "granularity"),
        ({"source": "tmall"}, "source"),
        ({"window_days": 0}, "window_days"),
        ({"source": "a\x00b"}, "source"),
        ({"live_code": "a\x00b"}, "live_code"),
        ({"goal": "Order\x00"}, "goal"),
        ({"source": "9" * 30}, "source"),  # too long to be an id: looked up as a name only
        ({"from": "0001-01-01", "to": "2026-01-02"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"to": "0001-01-05"}, "to"),
    ):
        assert error(api.get("/api/v1/metrics/gmv", params=params), 400)["field"] == field
    unknown = error(api.get("/api/v1/metrics/nope"), 404)
    assert unknown["field"] == "name" and "gmv" in unknown["error"] and "nps" in unknown["error"]
    assert error(api.get("/api/v1/metrics/cohorts/retention", params={"by": "x"}), 400)["field"] == "by"


def test_acquisition_spend(api: httpx.Client, viewer: httpx.Client, session: Session) -> None:
    build(session)
    body = {
        "channel": "web",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "amount_minor": 310000,
    }
    created = api.post("/api/v1/metrics/acquisition-spend", json=body)
    assert created.status_code == 201 and created.json()["currency"] == "CNY"
    listed = api.get("/api/v1/metrics/acquisition-spend", params=PERIOD).json()["items"]
    assert [(i["channel"], i["amount_minor"]) for i in listed] == [("web", 310000)]
    cac = api.get("/api/v1/metrics/cac", params={**PERIOD, "source": "web"}).json()
    assert cac["value"] == 77500  # 310,000 over the four customers acquired through web
    assert error(viewer.post("/api/v1/metrics/acquisition-spend", json=body), 403)["success"] is False
    for change, field in (
        ({"channel": "tmall"}, "channel"),
        ({"period_end": "2026-09-01"}, "period_end"),
        ({"amount_minor": -1}, "amount_minor"),
        ({"period_start": "soon"}, "period_start"),
        ({"period_start": "0001-01-01"}, "period_start"),
    ):
        assert (
            error(api.post("/api/v1/metrics/acquisition-spend", json={**body, **change}), 400)["field"]
            == field
        )


def test_materialise_and_read_back(api: httpx.Client, viewer: httpx.Client, session: Session) -> None:
    build(session)
    assert error(viewer.post("/api/v1/metrics/materialise", params={"day": "2026-11-10"}), 403)  # admin only
    done = api.post("/api/v1/metrics/materialise", params={"day": "2026-11-10"}, timeout=120).json()
    assert done["day"] == "2026-11-10" and done["rows"] > 0
    stored = api.get(
        "/api/v1/metrics/dau", params={"from": "2026-11-10", "to": "2026-11-10", "materialised": "true"}
    ).json()
    assert [p["value"] for p in stored["series"]] == [2]


def test_alerts(api: httpx.Client, viewer: httpx.Client, session: Session, frozen_clock: FrozenClock) -> None:
    build(session)
    # week of Nov 16–22: u6's order and survey = 2 interactions; Nov 9–15: u1 open, click, survey; u3 reply,
    # survey; u7 click, survey; u8 open, survey = 9. A fall of 77.8%
    frozen_clock.current = datetime(2026, 11, 23, 2, tzinfo=UTC)
    raised = api.post("/api/v1/alerts/evaluate", timeout=60).json()["raised"]
    assert [(a["rule"], a["period"], a["current"], a["previous"]) for a in raised] == [
        ("interaction_drop", "2026-W47", 2, 9)
    ]
    assert api.post("/api/v1/alerts/evaluate", timeout=60).json()["raised"] == []
    (alert,) = viewer.get("/api/v1/alerts").json()["items"]
    assert alert["message_zh"].startswith("互动次数环比下降 77.8% (9 → 2)")
    assert error(viewer.post(f"/api/v1/alerts/{alert['id']}/ack"), 403)
    acked = api.post(f"/api/v1/alerts/{alert['id']}/ack").json()
    assert acked["acknowledged_at"] is not None
    assert viewer.get("/api/v1/alerts").json()["items"] == []
    assert len(viewer.get("/api/v1/alerts", params={"status": "all"}).json()["items"]) == 1
    assert error(api.post("/api/v1/alerts/999999/ack"), 404)["field"] == "alert_id"

    rules = {r["key"]: r for r in viewer.get("/api/v1/alerts/rules").json()["items"]}
    assert (
        rules["ltv_cac_low"]["threshold"] == 3.0 and rules["interaction_drop"]["label_zh"] == "互动环比下降"
    )
    changed = api.post(
        "/api/v1/alerts/rules/ltv_cac_low", json={"threshold": 2.5, "params": {"window_days": 60}}
    )
    assert changed.json()["threshold"] == 2.5 and changed.json()["params"] == {"window_days": 60}
    assert error(api.post("/api/v1/alerts/rules/nope", json={"threshold": 1}), 404)["field"] == "key"
    assert (
        error(api.post("/api/v1/alerts/rules/ltv_cac_low", json={"threshold": -1}), 400)["field"]
        == "threshold"
    )


def test_experiments(api: httpx.Client, viewer: httpx.Client, session: Session) -> None:
    build(session)
    counts = {
        "arms": [{"name": "A", "n": 1000, "conversions": 200}, {"name": "B", "n": 1000, "conversions": 250}]
    }
    report = viewer.post("/api/v1/experiments/analyze", json=counts).json()
    assert report["control"] == "A" and report["srm"]["mismatch"] is False
    assert (
        report["verdict_zh"] == "B 比 A 转化率高 5.0 个百分点 (95% CI 1.3 至 8.7 个百分点, p = 0.007), 显著"
    )
    rows = {
        "rows": [
            {"arm": "A", "converted": True, "revenue": 100},
            {"arm": "A", "converted": False},
            {"arm": "B", "converted": False},
            {"arm": "B", "converted": False, "revenue": 0},
        ]
    }
    by_rows = viewer.post("/api/v1/experiments/analyze", json={**rows, "n_boot": 100}).json()
    assert [a["n"] for a in by_rows["arms"]] == [2, 2] and by_rows["arms"][0]["revenue_per_customer"] == 50
    assert error(viewer.post("/api/v1/experiments/analyze", json={**counts, **rows}), 400)["success"] is False
    one_arm = {"arms": [{"name": "A", "n": 10, "conversions": 1}]}
    assert error(viewer.post("/api/v1/experiments/analyze", json=one_arm), 400)["field"] == "arms"
    bad = {"arms": [{"name": "A", "converted": [0, 2]}, {"name": "B", "n": 1, "conversions": 0}]}
    assert error(viewer.post("/api/v1/experiments/analyze", json=bad), 400)["field"].startswith("arms")

    journey = viewer.get("/api/v1/experiments/j1", params={"n_boot": 100}).json()
    assert journey["journey_id"] == "j1" and [
        (a["name"], a["n"], a["conversions"]) for a in journey["arms"]
    ] == [
        ("A", 2, 1),
        ("B", 2, 0),
    ]
    assert journey["entered_from"].startswith("2026-11-05")
    assert error(viewer.get("/api/v1/experiments/nope"), 404)["field"] == "journey_id"
    assert error(viewer.get("/api/v1/experiments/j1", params={"weights": "A=1"}), 400)["field"] == "weights"
    assert error(viewer.get("/api/v1/experiments/j1", params={"goal": "x\x00"}), 400)["field"] == "goal"


def test_a_digit_like_source_is_a_400_not_a_500(api: httpx.Client) -> None:
    # '¹' is a Unicode digit that int() refuses: it must be looked up as a name, never crash
    response = api.get("/api/v1/metrics/cohorts/retention", params={"source": "¹"})
    assert response.status_code == 400
    assert response.json()["field"] == "source"
