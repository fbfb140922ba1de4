"""Property tests over random identify/alias/track/order sequences (hypothesis), on SQLite and PostgreSQL:
nothing is lost by merging, undo restores both customers exactly, stats equal a from-scratch recomputation.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.customers import merges
from tests.customers.identity_model import (
    batches,
    ensure_source,
    messages,
    normalised_stats,
    recompute,
    send,
    snapshot,
    wipe,
)

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check_materialisation(session: Session) -> None:
    snap = snapshot(session)
    stats, rollups, traits = recompute(session)
    assert normalised_stats(snap) == stats
    assert snap["rollups"] == rollups
    assert {k: v[0] for k, v in snap["traits"].items()} == traits
    live = {cid for cid, into in snap["customers"].items() if into is None}
    for table in ("identities", "events", "orders", "order_lines", "trait_history"):
        owners = set(snap[table].values())
        assert owners <= live, f"{table} rows belong to merged-away customers: {owners - live}"


def replay(session: Session, plan: list[list[dict[str, Any]]]) -> tuple[int, list[int]]:
    """A fresh database that has ingested `plan`; returns the source id and the messageId counter."""
    wipe(session)
    source_id = ensure_source(session)
    counter = [0]
    for batch in plan:
        send(session, source_id, batch, counter)
    return source_id, counter


@PROPERTY
@given(plan=batches())
def test_nothing_is_lost_and_stats_match_recomputation(
    session: Session, plan: list[list[dict[str, Any]]]
) -> None:
    wipe(session)
    source_id = ensure_source(session)
    counter = [0]
    accepted = 0
    previous: dict[str, Any] = snapshot(session)
    for batch in plan:
        report = send(session, source_id, batch, counter)
        assert not report.errors, report.errors
        accepted += report.accepted
        current = snapshot(session)
        # no identity, event, order or trait write ever disappears
        for table in ("identities", "events", "orders", "trait_history"):
            missing = set(previous[table]) - set(current[table])
            assert not missing, f"{table} lost {missing}"
        previous = current
    assert len(previous["events"]) == accepted == counter[0]
    _check_materialisation(session)


@PROPERTY
@given(plan=batches(), picks=st.tuples(st.integers(0, 50), st.integers(0, 50)))
def test_explicit_merge_then_undo_restores_both_exactly(
    session: Session, plan: list[list[dict[str, Any]]], picks: tuple[int, int]
) -> None:
    replay(session, plan)
    live = sorted(
        r[0] for r in session.execute(text("SELECT id FROM customers WHERE merged_into_id IS NULL"))
    )
    if len(live) < 2:
        return
    a = live[picks[0] % len(live)]
    b = live[(picks[0] % len(live) + 1 + picks[1] % (len(live) - 1)) % len(live)]
    before = snapshot(session)
    record = merges.merge(session, a, b, reason="test", actor="tester")
    session.commit()
    merged = snapshot(session)
    assert merged["customers"][b] == a
    for table in ("identities", "events", "orders", "trait_history"):
        assert set(merged[table]) == set(before[table])
        assert all(owner != b for owner in merged[table].values())
    _check_materialisation(session)
    merges.undo(session, record.id, actor="tester")
    session.commit()
    after = snapshot(session)
    assert after == before
    _check_materialisation(session)


@PROPERTY
@given(
    plan=batches(),
    tail=st.lists(
        st.lists(
            messages(),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_undoing_ingestion_merges_returns_every_row(
    session: Session, plan: list[list[dict[str, Any]]], tail: list[list[dict[str, Any]]]
) -> None:
    """Undo the merges a batch triggered (newest first): rows that existed before go back to their owners."""
    source_id, counter = replay(session, plan)
    for batch in tail:
        before = snapshot(session)
        report = send(session, source_id, batch, counter)
        if not report.merges:
            continue
        for merge_id in reversed(report.merges):
            merges.undo(session, merge_id, actor="tester")
        session.commit()
        after = snapshot(session)
        for table in ("identities", "events", "orders", "trait_history"):
            for row_id, owner in before[table].items():
                assert after[table][row_id] == owner, f"{table} {row_id} not restored"
        for cid, into in before["customers"].items():
            assert after["customers"][cid] == into
        _check_materialisation(session)
