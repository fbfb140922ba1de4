"""Predictions over real HTTP and the CLI: refresh permissions, the latest run, the profile's
`predictions`, and `siyu predict refresh --json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from tests.events.tracking import customer_by, send_batch, track
from tests.fixtures.live_server import LiveServer

runner = CliRunner()


@pytest.fixture
def viewer(live_server: LiveServer, viewer_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {viewer_token}"}) as c:
        yield c


def _buy(user: str, order_id: str, days_ago: float) -> dict[str, object]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return track(user, "Order Completed", {"order_id": order_id, "total": "120.00"}, timestamp=at.isoformat())


def _brand(tracker: httpx.Client) -> None:
    """Twelve buyers (one to four orders over the last year) and one reader who opens at 20:xx."""
    orders = []
    for i in range(12):
        for k in range(1 + i % 4):
            orders.append(_buy(f"b{i}", f"b{i}-{k}", 5 + 30 * k + 7 * i))
    opened_at = datetime.now(UTC).replace(hour=12, minute=5) - timedelta(days=2)  # 20:05 in Shanghai
    orders.append(track("b0", "Message Opened", {"message_id": "m1"}, timestamp=opened_at.isoformat()))
    send_batch(tracker, *orders)


def test_refresh_permissions_latest_run_and_profile(
    tracker: httpx.Client, api: httpx.Client, viewer: httpx.Client
) -> None:
    _brand(tracker)
    missing = viewer.get("/api/v1/predictions/runs/latest")
    assert missing.status_code == 404 and missing.json()["field"] == "run"
    refused = viewer.post("/api/v1/predictions/refresh")
    assert refused.status_code == 403 and "write" in refused.json()["error"]

    done = api.post("/api/v1/predictions/refresh")
    assert done.status_code == 200, done.text
    run = done.json()
    assert run["customers"] == 12 and run["metrics"]["buyers"] == 12
    assert set(run["params"]["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert run["metrics"]["churn"]["method"] == "bgnbd"
    assert set(run["metrics"]["tags"]) == {"高流失风险", "高潜力"}
    assert viewer.get("/api/v1/predictions/runs/latest").json() == run

    shown = customer_by(api, "user_id:b0")["predictions"]
    assert 0 < shown["p_alive"] <= 1 and 0 <= shown["churn_risk"] <= 1
    assert shown["expected_purchases_90d"] > 0 and float(shown["clv"]) > 0
    assert shown["clv_minor"] == round(float(shown["clv"]) * 100)
    assert shown["best_send_hour"] == 20
    assert set(shown["next_purchase"]) == {"expected", "low", "high"}
    assert shown["run_id"] == run["id"] and shown["computed_at"] == run["computed_at"]
    assert shown["replenish"] == {"expected_replenish_date": None, "remind_on": None, "product": None}
    assert httpx.get(f"{api.base_url}/api/v1/predictions/runs/latest").status_code == 401


def test_cli_refresh(tracker: httpx.Client, api: httpx.Client) -> None:
    _brand(tracker)
    result = runner.invoke(app, ["predict", "refresh", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["customers"] == 12 and body["metrics"]["buyers"] == 12
    assert api.get("/api/v1/predictions/runs/latest").json()["id"] == body["id"]
    table = runner.invoke(app, ["predict", "refresh"])
    assert table.exit_code == 0 and "高流失风险" in table.stdout and "12 customers" in table.stdout
