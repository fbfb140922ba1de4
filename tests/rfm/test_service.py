"""RFM runs on SQLite and PostgreSQL: hand-computed quintiles, value tags, incremental = full, filters."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.core.settings import get_settings
from siyu.rfm import facts, service
from siyu.rfm.facts import RfmConfig
from siyu.rfm.tables import RfmRun, RfmScore
from siyu.rfm.tiers import TIERS as TIERS_CN
from siyu.tags.tables import CustomerTag, Tag, TagGroup
from tests.rfm.shop import NOW, ago, cancel, cid, feed, order, refund, visit

# (days since the last counted order, counted orders, net spend in fen) → hand-computed scores.
# Scored: c0 c2 c3 c4 c5 c6 c8 c9 (n = 8); c1 bought only before the 365-day window, c7 never bought.
EXPECTED = {
    "c0": (10, 1, 10000, 3, 2, 2, "general_develop"),
    "c2": (5, 2, 50000, 4, 4, 3, "important_value"),
    "c3": (30, 3, 30000, 3, 5, 3, "important_value"),
    "c4": (200, 1, 100000, 1, 2, 5, "important_win_back"),
    "c5": (2, 1, 5000, 5, 2, 1, "general_develop"),
    "c6": (100, 2, 70000, 1, 4, 4, "important_retain"),
    "c8": (3, 5, 10000, 5, 5, 2, "general_value"),
    "c9": (45, 1, 200000, 2, 2, 5, "important_win_back"),
}
CUTS = {
    "recency_days": [45, 30, 5, 3],
    "frequency": [1, 2, 2, 3],
    "monetary": [10000, 30000, 70000, 100000],
}


def shop(session: Session) -> dict[str, int]:
    feed(
        session,
        order("c0", "o0", 100, ago(10)),
        order("c1", "o1", 500, ago(400)),
        order("c2", "o2a", 200, ago(20)),
        order("c2", "o2b", 300, ago(5)),
        *[order("c3", f"o3{i}", 100, ago(d)) for i, d in enumerate((30, 60, 90))],
        order("c4", "o4", 1000, ago(200)),
        order("c5", "o5a", 50, ago(2)),
        order("c5", "o5b", 999, ago(1.5)),
        refund("c5", "o5b", ago(1)),  # fully refunded: not an order, no spend
        order("c6", "o6a", 400, ago(150)),
        order("c6", "o6b", 400, ago(100)),
        refund("c6", "o6a", ago(90), yuan=100),  # partial: still an order, spend net of it
        visit("c7", ago(3)),
        *[order("c8", f"o8{i}", 20, ago(d)) for i, d in enumerate((3, 6, 9, 12, 15))],
        order("c9", "o9a", 2000, ago(45)),
        order("c9", "o9b", 800, ago(1)),
        cancel("c9", "o9b", ago(0.5)),
    )
    return {u: cid(session, u) for u in [f"c{i}" for i in range(10)]}


def scores(session: Session) -> dict[int, tuple[Any, ...]]:
    return {
        s.customer_id: (s.recency_days, s.frequency, s.monetary_minor, s.r, s.f, s.m, s.tier)
        for s in session.scalars(select(RfmScore))
    }


def value_tags(session: Session) -> dict[int, str]:
    query = (
        select(CustomerTag.customer_id, Tag.name)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(TagGroup.name == service.TAG_GROUP)
    )
    out: dict[int, str] = {}
    for customer, name in session.execute(query):
        assert customer not in out, "the value group is exclusive"
        out[customer] = name
    return out


def test_hand_computed_quintiles_scores_tiers_and_tags(session: Session) -> None:
    ids = shop(session)
    run = service.recompute_all(session, NOW)
    session.commit()
    assert scores(session) == {ids[u]: row for u, row in EXPECTED.items()}
    assert run.thresholds == CUTS
    assert run.customers == 8 and run.seconds is not None and run.seconds >= 0
    assert run.settings["window_days"] == 365 and run.settings["method"] == "quintiles"
    labels = {"general_develop": "一般发展", "important_value": "重要价值", "important_win_back": "重要挽留",
              "important_retain": "重要保持", "general_value": "一般价值"}  # fmt: skip
    assert value_tags(session) == {ids[u]: labels[row[-1]] for u, row in EXPECTED.items()}
    assert (
        session.scalars(select(RfmScore).where(RfmScore.customer_id.in_([ids["c1"], ids["c7"]]))).all() == []
    )


def test_refresh_with_the_same_cut_points_changes_nothing(session: Session) -> None:
    ids = shop(session)
    service.recompute_all(session, NOW)
    before = scores(session)
    assert service.refresh(session, list(ids.values()), NOW) == []
    session.commit()
    assert scores(session) == before
    assert len(session.scalars(select(RfmRun)).all()) == 1


def test_refresh_without_a_run_makes_one(session: Session) -> None:
    ids = shop(session)
    changed = service.refresh(session, [ids["c0"], ids["c7"]], NOW)
    assert changed == [ids["c0"]]
    assert len(session.scalars(select(RfmRun)).all()) == 1
    assert len(scores(session)) == 8


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    monkeypatch.setenv("SIYU_RFM_METHOD", "thresholds")
    monkeypatch.setenv(
        "SIYU_RFM_THRESHOLDS",
        '{"recency_days": [90, 30, 10, 3], "frequency": [2, 3, 4, 5], "monetary": [100, 300, 500, 1000]}',
    )
    get_settings.cache_clear()


def test_incremental_equals_full_for_changed_customers(session: Session, thresholds: None) -> None:
    ids = shop(session)
    run = service.recompute_all(session, NOW)
    assert run.thresholds["monetary"] == [10000, 30000, 50000, 100000]  # yuan → fen
    assert scores(session)[ids["c8"]] == (3, 5, 10000, 5, 5, 2, "general_value")
    feed(
        session,
        order("c0", "o0b", 900, ago(1)),  # c0: 2 orders (F 2), 1000 yuan → important_develop
        refund("c4", "o4", ago(0.5)),  # c4's only order refunded: leaves RFM
        order("c7", "o7", 60, ago(0.2)),  # c7 becomes a buyer
        order("c8", "o8x", 20, ago(0.1)),  # c8: same tier, new figures
    )
    touched = [ids[u] for u in ("c0", "c4", "c7", "c8")]
    changed = service.refresh(session, touched, NOW)
    session.commit()
    incremental, tags_after = scores(session), value_tags(session)
    assert sorted(changed) == sorted([ids["c0"], ids["c4"], ids["c7"]])
    assert incremental[ids["c0"]][-1] == "important_develop"
    assert ids["c4"] not in incremental and ids["c4"] not in tags_after
    assert incremental[ids["c7"]] == (0, 1, 6000, 5, 1, 1, "general_develop")
    assert incremental[ids["c8"]][:3] == (0, 6, 12000)

    service.recompute_all(session, NOW)
    session.commit()
    assert scores(session) == incremental
    assert value_tags(session) == tags_after


def _materialised(session: Session, config: RfmConfig) -> list[tuple[int, ...]]:
    table = facts.materialise(session, config, NOW)
    rows = session.execute(text(f"SELECT * FROM {table} ORDER BY customer_id"))
    out = [tuple(int(v) for v in r) for r in rows]
    facts.drop(session)
    return out


def test_all_history_reads_customer_stats_and_agrees_with_orders(session: Session) -> None:
    ids = shop(session)
    base = RfmConfig.from_settings(get_settings())
    long_window = RfmConfig(**{**vars(base), "window_days": 36500})
    all_history = RfmConfig(**{**vars(base), "window_days": 0})
    assert all_history.uses_stats and not long_window.uses_stats
    via_stats = _materialised(session, all_history)
    assert len(via_stats) == 9  # c1's old order counts now
    assert _materialised(session, long_window) == via_stats
    for config in (long_window, all_history):  # the incremental path reads the same figures
        found = facts.load(session, config, NOW, list(ids.values()))
        assert [tuple(int(v) for v in row) for row in zip(*vars(found).values(), strict=True)] == via_stats


def test_order_filter_by_source_and_category(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    feed(
        session,
        order("k1", "k1a", 100, ago(3), category="精华"),
        order("k1", "k1b", 50, ago(2), category="面膜"),
    )
    feed(session, order("k2", "k2a", 70, ago(4), category="精华"), source="mini-program")
    k1, k2 = cid(session, "k1"), cid(session, "k2")
    monkeypatch.setenv("SIYU_RFM_ORDER_CATEGORIES", '["精华"]')
    get_settings.cache_clear()
    service.recompute_all(session, NOW)
    assert {c: row[:3] for c, row in scores(session).items()} == {k1: (3, 1, 10000), k2: (4, 1, 7000)}
    monkeypatch.setenv("SIYU_RFM_ORDER_SOURCES", '["mini-program"]')
    get_settings.cache_clear()
    service.recompute_all(session, NOW)
    assert list(scores(session)) == [k2]
    monkeypatch.setenv("SIYU_RFM_ORDER_SOURCES", '["no-such-source"]')
    get_settings.cache_clear()
    from siyu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        service.recompute_all(session, NOW)
    assert err.value.field == "rfm_order_sources"


def test_summary_lists_every_tier_with_its_label(session: Session) -> None:
    shop(session)
    empty = service.summary(session)
    assert empty["run"] is None and empty["customers"] == 0 and len(empty["tiers"]) == 8
    service.recompute_all(session, NOW)
    shown = service.summary(session)
    assert shown["run"]["cut_points"] == CUTS and shown["customers"] == 8
    tiers = {t["tier"]: (t["label"], t["customers"]) for t in shown["tiers"]}
    assert tiers["important_value"] == ("重要价值", 2)
    assert tiers["important_win_back"] == ("重要挽留", 2)
    assert tiers["general_win_back"] == ("一般挽留", 0)


@pytest.mark.parametrize("high", ["3", "4"])
def test_sql_scoring_of_full_runs_matches_numpy_scoring_of_refreshes(
    session: Session, monkeypatch: pytest.MonkeyPatch, high: str
) -> None:
    monkeypatch.setenv("SIYU_RFM_HIGH_SCORE", high)
    get_settings.cache_clear()
    rnd = random.Random(int(high))
    messages = []
    for i in range(60):
        for j in range(rnd.choice([0, 1, 1, 1, 2, 3, 5])):
            messages.append(
                order(f"r{i}", f"r{i}-{j}", rnd.choice([9.9, 99, 120, 500, 1999]), ago(rnd.uniform(0, 400)))
            )
        if rnd.random() < 0.1 and messages:
            messages.append(refund(messages[-1]["userId"], messages[-1]["properties"]["order_id"], ago(0)))
    feed(session, *messages)
    service.recompute_all(session, NOW)
    full, tags_full = scores(session), value_tags(session)
    assert len(full) > 30 and len({row[-1] for row in full.values()}) >= 4
    everyone = [cid(session, user) for user in sorted({m["userId"] for m in messages})]
    assert service.refresh(session, everyone, NOW) == []
    assert scores(session) == full and value_tags(session) == tags_full


def test_merged_customers_leave_rfm_and_the_survivor_keeps_one_value_tag(session: Session) -> None:
    ids = shop(session)
    service.recompute_all(session, NOW)
    from siyu.customers import merges

    merges.merge(session, ids["c2"], ids["c4"], reason="same person", actor="test")
    service.recompute_all(session, NOW)
    rows = scores(session)
    assert ids["c4"] not in rows
    assert rows[ids["c2"]][:3] == (5, 3, 150000)  # c4's order moved to c2
    assert value_tags(session)[ids["c2"]] == "重要价值"
    assert service.refresh(session, [ids["c2"], ids["c4"]], NOW) == []


def test_two_full_runs_at_once_both_succeed(session: Session, db_url: str) -> None:
    ids = shop(session)
    from concurrent.futures import ThreadPoolExecutor

    from siyu.core.database import session_factory, write_lock

    def run() -> int:
        with session_factory(db_url)() as s, write_lock(s):
            n = service.recompute_all(s, NOW).customers
            s.commit()
            return n

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda _: run(), range(2))) == [8, 8]
    session.expire_all()
    assert scores(session) == {ids[u]: row for u, row in EXPECTED.items()}
    assert len(session.scalars(select(RfmRun)).all()) == 2


def test_full_runs_keep_the_primary_key_and_indexes_of_rfm_scores(session: Session) -> None:
    """PostgreSQL rewrites rfm_scores by TRUNCATE, insert, then rebuilding its key and indexes."""
    from sqlalchemy import inspect

    def shape() -> tuple[list[str], list[tuple[str | None, tuple[str | None, ...], bool]]]:
        found = inspect(session.connection())
        key = list(found.get_pk_constraint("rfm_scores")["constrained_columns"])
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes("rfm_scores")
        )
        return key, indexes

    before = shape()
    assert before[0] == ["customer_id"] and ("ix_rfm_scores_tier", ("tier",), False) in before[1]
    ids = shop(session)
    for _ in range(2):
        service.recompute_all(session, NOW)
        assert shape() == before
    assert scores(session) == {ids[u]: row for u, row in EXPECTED.items()}
    # the rebuilt key still refuses a second row for a customer
    duplicate = "INSERT INTO rfm_scores SELECT * FROM rfm_scores WHERE customer_id = :c"
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text(duplicate), {"c": ids["c0"]})


def test_binary_packed_values_round_trip() -> None:
    """The big-endian int8 packing PostgreSQL sends for the cut points decodes to the same numbers."""
    import numpy as np

    values = np.array([0, 1, -5, 2**40, 365], dtype=np.int64)
    assert (facts.unpack_int8(values.astype(">i8").tobytes()) == values).all()
    assert len(facts.unpack_int8(None)) == 0


def test_full_run_removes_value_tags_of_unscored_customers_and_moves_changed_tiers(session: Session) -> None:
    """A full run finds tags to remove by a count when it can; every kind of difference is still found."""
    from siyu.rfm import store
    from siyu.tags import service as tags

    ids = shop(session)
    service.recompute_all(session, NOW)
    tier_tag = store.tier_tags(session)
    service.recompute_all(session, NOW)  # the steady state: nothing to change
    assert value_tags(session)[ids["c0"]] == "一般发展"
    # c7 (never bought) tagged by hand; c4's only order refunded with no refresh; c0 buys big
    tags.apply(session, tier_tag["important_value"], add=[ids["c7"]], actor="test", reason=None, at=NOW)
    feed(session, refund("c4", "o4", ago(0.5)), order("c0", "o0big", 5000, ago(1)))
    before = value_tags(session)
    assert before[ids["c7"]] == "重要价值" and before[ids["c4"]] == "重要挽留"
    service.recompute_all(session, NOW)
    after = value_tags(session)
    assert ids["c7"] not in after and ids["c4"] not in after
    scored = scores(session)
    assert ids["c4"] not in scored and scored[ids["c0"]][-1] != "general_develop"
    assert after == {cid: TIERS_CN[row[-1]] for cid, row in scored.items()}
    # tags in line again: the next run changes nothing
    service.recompute_all(session, NOW)
    assert value_tags(session) == after


def test_an_untagged_scored_customer_and_a_tagged_unscored_one_are_both_fixed(session: Session) -> None:
    """As many value-tag rows as scored customers, yet one is wrong: the count check must not skip the
    anti-join."""
    from siyu.rfm import store
    from siyu.tags import service as tags

    ids = shop(session)
    service.recompute_all(session, NOW)
    tier_tag = store.tier_tags(session)
    code = scores(session)[ids["c2"]][-1]
    tags.apply(session, tier_tag[code], remove=[ids["c2"]], actor="test", reason=None, at=NOW)
    tags.apply(session, tier_tag["general_value"], add=[ids["c7"]], actor="test", reason=None, at=NOW)
    service.recompute_all(session, NOW)
    after = value_tags(session)
    assert ids["c7"] not in after
    assert after[ids["c2"]] == TIERS_CN[code]
