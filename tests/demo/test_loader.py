"""Loading the demo goes through the real ingestion pipeline; a second load adds nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from siyu.commerce.tables import Order, OrderLine
from siyu.core.database import session_factory, unit_of_work
from siyu.core.pii import get_vault
from siyu.customers import profiles, search
from siyu.customers.tables import Customer, Identity, Merge, TraitChange
from siyu.demo import loader, summary
from siyu.demo.generator import customers, generate
from siyu.events.tables import Event
from tests.demo.conftest import ANCHOR

SEED = 11


def _counts() -> dict[str, int]:
    with session_factory()() as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (Event, Customer, Identity, TraitChange, Order, OrderLine, Merge)
        }


def test_batches_are_small_single_channel_and_nearly_chronological() -> None:
    stream = generate(150, SEED, ANCHOR)
    position = {id(m): i for i, m in enumerate(stream)}
    sent = []
    for channel, batch in loader.batches(stream):
        assert 1 <= len(batch) <= loader.BATCH_SIZE
        assert {m.channel for m in batch} == {channel}
        assert [m.at for m in batch] == sorted(m.at for m in batch)
        sent.extend(batch)
    assert sorted(position[id(m)] for m in sent) == list(range(len(stream)))
    assert max(abs(position[id(m)] - i) for i, m in enumerate(sent)) < loader.WINDOW


def test_demo_loads_through_the_pipeline_and_a_second_run_adds_nothing(db_url: str) -> None:
    stream = generate(150, SEED, ANCHOR)
    with unit_of_work() as s:
        sources = loader.ensure_sources(s)
    report = loader.load(stream, sources.ids)
    assert report.errors == []
    assert report.accepted == report.sent == len(stream)
    assert report.merges > 0, "anonymous visitors who later log in must merge"
    counts = _counts()
    completed = [m for m in stream if m.payload.get("event") == "Order Completed"]
    assert counts["events"] == len(stream)
    assert counts["orders"] == len(completed) > 100
    assert 100 <= counts["customers"] - counts["merges"] <= 230
    with session_factory()() as s:
        figures = summary.summarise(s)
    assert figures.orders == len(completed)
    assert figures.gmv == sum((Decimal(m.payload["properties"]["total"]) for m in completed), Decimal(0))
    refunded = {
        m.payload["properties"]["order_id"] for m in stream if m.payload.get("event") == "Order Refunded"
    }
    assert figures.refunded_orders == len(refunded)
    assert figures.net_sales < figures.gmv

    with unit_of_work() as s:
        again = loader.ensure_sources(s)
    assert again.ids == sources.ids
    rerun = loader.load(stream, again.ids)
    assert rerun.accepted == 0 and rerun.duplicates == len(stream) and rerun.errors == []
    assert _counts() == counts


def test_a_customer_seen_on_several_channels_is_one_profile(db_url: str) -> None:
    population = list(customers(150, SEED, ANCHOR))
    with unit_of_work() as s:
        sources = loader.ensure_sources(s)
    loader.load(sorted((m for c in population for m in c.messages), key=lambda m: m.at), sources.ids)
    # a member who logged into the mini-program and bought elsewhere too
    chosen = next(
        c
        for c in population
        if c.person.phone
        and any(m.channel == "miniprogram" and "userId" in m.payload for m in c.messages)
        and any(
            m.payload.get("event") == "Order Completed" and m.channel != "miniprogram" for m in c.messages
        )
        and any(m.channel == "tmall" and "userId" in m.payload for m in c.messages)
    )
    vault = get_vault()
    with session_factory()() as s:
        found = search.by_identity(s, vault, f"member_id:{chosen.person.member_id}")
        assert len(found) == 1
        by_phone = search.by_identity(s, vault, f"phone:{chosen.person.phone[3:]}")
        assert by_phone == found
        profile = profiles.profile(s, vault, found[0], sees_pii=True)
    kinds = {i["type"] for i in profile["identities"]}
    assert {"user_id", "member_id", "phone", "unionid", "openid", "anonymous_id"} <= kinds
    values = {i["value"] for i in profile["identities"]}
    assert chosen.person.device_id in values and chosen.person.tmall_id in values
    orders = sum(1 for m in chosen.messages if m.payload.get("event") == "Order Completed")
    fully_refunded = sum(
        1
        for m in chosen.messages
        if m.payload.get("event") == "Order Refunded" and "total" not in m.payload["properties"]
    )
    assert profile["stats"]["orders_count"] == orders - fully_refunded
