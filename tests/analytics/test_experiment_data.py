"""Experiment arms read from `Journey Entered` events of the fixture brand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from siyu.analytics.definitions import Options
from siyu.analytics.experiment_data import journey_arms
from siyu.analytics.experiments import analyze
from siyu.core.errors import NotFound, ValidationFailed
from siyu.events import system
from tests.analytics.brand import build


def test_arms_of_journey_j1(session: Session) -> None:
    brand = build(session)
    arms, weights = journey_arms(session, "j1")
    assert weights is None  # no arm_weight recorded
    by_name = {a.name: a for a in arms}
    # A: u1 (no order after Nov 9), u6 (entered Nov 5 08:00, ordered 60.00 at 09:00 and 40.00 on Nov 6;
    #    100.00 on Nov 20 is outside the 7 days); B: u3 (ordered before entering), u7
    a, b = by_name["A"], by_name["B"]
    assert (a.n, a.conversions, b.n, b.conversions) == (2, 1, 2, 0)
    assert a.revenue is not None and sorted(a.revenue) == [0.0, 10000.0]
    assert b.revenue is not None and list(b.revenue) == [0.0, 0.0]
    # silent on entry (no activity in the 90 days before): only u6, who then ordered
    assert (a.silent, a.woken, b.silent, b.woken) == (1, 1, 0, 0)
    report = analyze(arms, n_boot=200)
    conversion = next(c for c in report.comparisons if c.metric == "conversion")
    assert (conversion.arm, conversion.baseline, conversion.difference) == ("B", "A", -0.5)
    assert not conversion.significant

    # an explicit conversion window and goal
    clicks, _ = journey_arms(session, "j1", Options(goal="Message Clicked", window_days=3))
    assert {x.name: x.conversions for x in clicks} == {"A": 1, "B": 1}  # u1 Nov 10, u7 Nov 11

    # intended weights recorded by the runner are picked up when every arm has one
    at = datetime(2026, 11, 20, tzinfo=UTC)
    system.record(
        session,
        [
            system.SystemEvent(
                brand.customers["u8"],
                "Journey Entered",
                "w:u8",
                at,
                {"journey_id": "j1", "arm": "A", "arm_weight": 0.5},
            ),
            system.SystemEvent(
                brand.customers["u9"],
                "Journey Entered",
                "w:u9",
                at,
                {"journey_id": "j1", "arm": "B", "arm_weight": "0.5"},
            ),
        ],
        received_at=at,
    )
    session.commit()
    arms, weights = journey_arms(session, "j1")
    assert weights == {"A": 0.5, "B": 0.5} and sum(x.n for x in arms) == 6


def test_unknown_and_single_arm_journeys(session: Session) -> None:
    build(session)
    with pytest.raises(NotFound) as missing:
        journey_arms(session, "nope")
    assert missing.value.field == "journey_id"
    arms, _ = journey_arms(session, "j2")
    with pytest.raises(ValidationFailed) as single:
        analyze(arms)
    assert single.value.field == "arms"
