"""RFM and lifecycle over real HTTP and the CLI: recompute, distribution, permissions, the profile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.database import session_factory
from siyu.lifecycle import service as lifecycle
from tests.events.tracking import customer_by, send_batch, track
from tests.fixtures.live_server import LiveServer

runner = CliRunner()


@pytest.fixture
def viewer(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {viewer_token}"}) as c:
        yield c


def _buy(user: str, order_id: str, total: str, days_ago: float) -> dict[str, object]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return track(user, "Order Completed", {"order_id": order_id, "total": total}, timestamp=at.isoformat())


def test_recompute_distribution_permissions_and_profile(
    tracker: httpx.Client, api: httpx.Client, viewer: httpx.Client, db_url: str
) -> None:
    send_batch(
        tracker,
        _buy("big", "b1", "900.00", 2),
        _buy("big", "b2", "800.00", 9),
        _buy("small", "s1", "9.90", 300),
        track("window-shopper", "Product Viewed", {"product_id": "p1"}),
    )
    labels = {"important_value": "重要价值", "important_develop": "重要发展", "important_retain": "重要保持",
              "important_win_back": "重要挽留", "general_value": "一般价值", "general_develop": "一般发展",
              "general_retain": "一般保持", "general_win_back": "一般挽留"}  # fmt: skip
    assert viewer.get("/api/v1/rfm").json() == {
        "run": None,
        "customers": 0,
        "tiers": [{"tier": c, "label": label, "customers": 0, "share": 0.0} for c, label in labels.items()],
    }
    refused = viewer.post("/api/v1/rfm/recompute")
    assert refused.status_code == 403 and "write" in refused.json()["error"]

    done = api.post("/api/v1/rfm/recompute")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["run"]["customers"] == 2 and body["customers"] == 2
    assert body["run"]["cut_points"]["frequency"] == [1, 2, 2, None]  # nobody reaches F = 5
    assert body["run"]["settings"]["window_days"] == 365
    tiers = {t["tier"]: t["customers"] for t in body["tiers"]}
    assert tiers["important_value"] == 1 and tiers["general_win_back"] == 1
    assert viewer.get("/api/v1/rfm").json() == body

    big = customer_by(api, "user_id:big")
    rfm = big["rfm"]
    assert (rfm["r"], rfm["f"], rfm["m"], rfm["tier"], rfm["tier_label"]) == (
        4,
        4,
        4,
        "important_value",
        "重要价值",
    )
    assert (rfm["recency_days"], rfm["frequency"], rfm["monetary"], rfm["monetary_minor"]) == (
        2,
        2,
        "1700.00",
        170000,
    )
    assert rfm["computed_at"] == body["run"]["computed_at"]
    assert customer_by(api, "user_id:window-shopper")["rfm"] is None
    assert big["lifecycle_stage"] is None  # not decided yet

    with session_factory(db_url)() as s:
        lifecycle.sweep(s, datetime.now(UTC))
        s.commit()
    stage = customer_by(api, "user_id:big")["lifecycle_stage"]
    assert {k: stage[k] for k in ("stage", "label", "previous", "previous_label")} == {
        "stage": "returning", "label": "老客", "previous": None, "previous_label": None,
    }  # fmt: skip
    assert customer_by(api, "user_id:small")["lifecycle_stage"]["label"] == "流失"
    shown = viewer.get("/api/v1/lifecycle").json()
    counts = {s["stage"]: s["customers"] for s in shown["stages"]}
    assert counts == {"prospect": 1, "new": 0, "returning": 1, "dormant": 0, "churned": 1, "reactivated": 0}
    assert shown["customers"] == 3 and shown["last_sweep_at"] is not None
    assert shown["rules"] == {
        "new_days": 30, "dormant_days": 30, "churn_days": 180, "category_cycles": {}, "cycle_factor": 1.5,
    }  # fmt: skip
    assert httpx.get(f"{api.base_url}/api/v1/lifecycle").status_code == 401


def test_cli_recompute_and_sweep(tracker: httpx.Client, db_url: str) -> None:
    send_batch(tracker, _buy("cli", "c1", "10", 1), _buy("cli2", "c2", "20", 50))
    result = runner.invoke(app, ["rfm", "recompute", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["run"]["customers"] == 2 and sum(t["customers"] for t in body["tiers"]) == 2
    table = runner.invoke(app, ["rfm", "recompute"])
    assert table.exit_code == 0 and "重要价值" in table.stdout and "run" in table.stdout
    swept = runner.invoke(app, ["lifecycle", "sweep", "--json"])
    assert swept.exit_code == 0, swept.output
    assert json.loads(swept.stdout)["changed"] == 2
    again = runner.invoke(app, ["lifecycle", "sweep", "--json"])
    assert json.loads(again.stdout)["changed"] == 0
