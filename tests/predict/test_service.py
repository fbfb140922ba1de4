"""Prediction refresh on a small brand fed through real ingestion (SQLite and PostgreSQL): values equal
the models applied by hand to the brand's (x, t_x, T), tags and the replenish trait follow them, a second
refresh changes nothing, and a threshold change moves the tags."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.settings import get_settings
from siyu.customers.tables import Trait
from siyu.predict import service, store
from siyu.predict.bgnbd import BGNBD
from siyu.predict.data import FrequencyData
from siyu.predict.next_purchase import probability_no_purchase, waiting_quantile
from siyu.predict.tables import Prediction
from siyu.predict.valuation import StableBGNBD
from siyu.tags.tables import CustomerTag, Tag
from tests.rfm.shop import NOW, _msg, ago, cid, feed, refund, visit


def buy(user: str, order_id: str, days_ago: float, *lines: tuple[str, str, int]) -> dict[str, Any]:
    """An order of (product, category, units) lines at 100 yuan a unit (a 50-yuan order without lines)."""
    products = [{"product_id": p, "category": c, "price": "100", "quantity": q} for p, c, q in lines]
    total = 100 * sum(q for _, _, q in lines) if lines else 50
    props: dict[str, Any] = {"order_id": order_id, "total": str(total), "products": products}
    return _msg(user, "Order Completed", ago(days_ago), props)


def opened(user: str, days_ago: float, utc_hour: int) -> dict[str, Any]:
    at = (ago(days_ago)).replace(hour=utc_hour, minute=10)
    return _msg(user, "Message Opened", at, {"message_id": f"msg-{user}-{days_ago}"})


HISTORY = {  # user -> days ago of each order (no product lines)
    "loyal": [300, 240, 180, 120, 60, 10],
    "lapsed": [400, 380, 360, 340],
    "once_recent": [5],
    "once_old": [350],
    "pair": [20, 15],
}


def brand(session: Session) -> None:
    messages = [buy(u, f"{u}-{i}", d) for u, days in HISTORY.items() for i, d in enumerate(days)]
    messages.append(buy("serum_buyer", "s-1", 100, ("serum", "精华", 2)))
    for i in range(6):  # toner every 30 days: the estimated cycle
        for k, d in enumerate((100, 70, 40)):
            messages.append(buy(f"toner{i}", f"t{i}-{k}", d + 7 * i, ("toner", "爽肤水", 1)))
    messages += [buy("refunder", "r-1", 50), buy("reader_buyer", "rb-1", 30)]
    messages += [opened("reader_buyer", d, 13) for d in (3, 9, 27)] + [opened("reader_buyer", 6, 2)]
    messages += [visit("prospect", ago(2))]
    feed(session, *messages)
    feed(session, refund("refunder", "r-1", ago(49)))


@pytest.fixture
def shop(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("SIYU_PREDICT_REPLENISH_CYCLES", '{"serum": 90}')
    get_settings.cache_clear()
    brand(session)
    return session


def rows(session: Session) -> dict[int, Prediction]:
    return {p.customer_id: p for p in session.scalars(select(Prediction))}


def members(session: Session, name: str) -> set[int]:
    query = select(CustomerTag.customer_id).join(Tag, Tag.id == CustomerTag.tag_id).where(Tag.name == name)
    return set(session.scalars(query))


def test_refresh_writes_what_the_models_say(shop: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    session = shop
    monkeypatch.setattr(store, "WRITE_CHUNK", 4)  # several chunks even for this small brand
    done = service.refresh_all(session, NOW)
    session.commit()
    run = done.run
    found = rows(session)
    people = {u: cid(session, u) for u in [*HISTORY, "serum_buyer", "refunder", "reader_buyer", "prospect"]}
    assert set(people.values()) <= set(found)  # every customer has a row
    assert run.metrics["buyers"] == 13 and run.customers == len(found)

    # loyal: x = 5 repeat days, t_x = 290, T = 300 (days, brand-local)
    model = BGNBD(**{k: run.params["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
    loyal = FrequencyData([5], [290], [300])
    row = found[people["loyal"]]
    assert row.p_alive == pytest.approx(model.p_alive(loyal)[0], rel=1e-9)
    expected = StableBGNBD(model).conditional_expected_purchases(90, loyal)[0]
    assert row.expected_purchases_90d == pytest.approx(expected, rel=1e-9)
    assert run.metrics["churn"]["method"] == "bgnbd"  # 13 buyers: too few for the classifier
    assert row.churn_risk == pytest.approx(probability_no_purchase(model, loyal, 90)[0], rel=1e-9)
    median = waiting_quantile(model, loyal, 0.5)[0]
    assert row.next_purchase_at is not None
    assert abs((row.next_purchase_at - (NOW + timedelta(days=median))).total_seconds()) < 1
    assert row.next_purchase_low is not None and row.next_purchase_low < row.next_purchase_at
    assert row.clv_minor is not None and row.clv_minor > 0

    # not buyers: the refunded order does not count; the prospect has no history
    for user in ("refunder", "prospect"):
        assert found[people[user]].p_alive is None and found[people[user]].churn_risk is None
    lapsed = found[people["lapsed"]]
    assert lapsed.p_alive is not None and lapsed.p_alive < 0.5 and lapsed.next_purchase_at is None

    # best hour: opens at 21:10 Shanghai time three times, 10:10 once; everyone else gets that prior
    assert found[people["reader_buyer"]].best_send_hour == 21
    assert found[people["prospect"]].best_send_hour == 21
    assert run.params["send_hour"]["with_history"] == 1

    # replenishment: 2 × 90-day serum from the setting; toner's 30-day cycle estimated from 6 buyers
    serum = found[people["serum_buyer"]]
    bought = (NOW - timedelta(days=100)).date()
    assert serum.replenish_on == bought + timedelta(days=180)
    assert serum.replenish_remind_on == bought + timedelta(days=165)
    assert serum.replenish_product == "serum"
    cycles = run.params["replenish"]["cycles"]
    assert cycles["serum"]["origin"] == "product" and cycles["toner"] == {
        "days": 30.0, "origin": "estimated", "repeat_buyers": 6
    }  # fmt: skip
    toner0 = found[cid(session, "toner0")]
    assert toner0.replenish_on == (NOW - timedelta(days=40)).date() + timedelta(days=30)
    trait = session.get(Trait, (people["serum_buyer"], "expected_replenish_date"))
    assert trait is not None and trait.value == (bought + timedelta(days=180)).isoformat()

    # tags follow the predictions
    risky = {c for c, p in found.items() if p.churn_risk is not None and p.churn_risk >= 0.7}
    assert members(session, "高流失风险") == risky and risky
    cut = run.metrics["high_potential_cut_minor"]
    potential = {
        c for c, p in found.items()
        if p.clv_minor is not None and p.clv_minor >= cut and p.p_alive is not None and p.p_alive >= 0.5
    }  # fmt: skip
    assert members(session, "高潜力") == potential and 1 <= len(potential) <= 2
    assert run.metrics["tags"]["高流失风险"]["members"] == len(risky)


def test_second_refresh_changes_nothing_and_thresholds_move_tags(
    shop: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = shop
    first = service.refresh_all(session, NOW)
    session.commit()
    second = service.refresh_all(session, NOW)
    session.commit()
    assert second.run.id == first.run.id + 1 and second.touched == []
    assert all(t["added"] == 0 and t["removed"] == 0 for t in second.run.metrics["tags"].values())
    assert second.run.metrics["replenish_traits_changed"] == 0
    assert {p.run_id for p in rows(session).values()} == {second.run.id}
    before = members(session, "高流失风险")
    monkeypatch.setenv("SIYU_PREDICT_CHURN_THRESHOLD", "0.995")
    get_settings.cache_clear()
    third = service.refresh_all(session, NOW)
    session.commit()
    after = members(session, "高流失风险")
    assert after < before and third.run.metrics["tags"]["高流失风险"]["removed"] == len(before - after)
    assert set(third.touched) == before - after


def test_the_serum_buyers_date_moves_when_they_buy_again(shop: Session) -> None:
    session = shop
    service.refresh_all(session, NOW)
    session.commit()
    feed(session, buy("serum_buyer", "s-2", 10, ("serum", "精华", 1)))
    done = service.refresh_all(session, NOW)
    session.commit()
    serum = cid(session, "serum_buyer")
    expected = (NOW - timedelta(days=10)).date() + timedelta(days=90)
    assert rows(session)[serum].replenish_on == expected
    assert session.get(Trait, (serum, "expected_replenish_date")).value == expected.isoformat()  # type: ignore[union-attr]
    assert serum in done.touched


def test_an_empty_brand_gets_a_run_and_no_predictions(session: Session) -> None:
    done = service.refresh_all(session, NOW)
    session.commit()
    assert done.run.customers == 0 and done.run.params["bgnbd"] is None
    assert done.run.metrics["churn"]["method"] is None
    assert service.latest_run(session) is not None


def simulated_brand(session: Session, n: int, seed: int) -> None:
    """n buyers with two years of orders: steady buyers keep buying, lapsing ones stop at a random day."""
    from siyu.auth.service import create_source
    from siyu.commerce.tables import Order
    from siyu.customers.tables import Customer

    source = create_source(session, "sim")[0].id
    rng = np.random.default_rng(seed)
    start = NOW - timedelta(days=730)
    session.execute(Customer.__table__.insert(), [{"created_at": start}] * n)
    orders = []
    for customer in sorted(session.scalars(select(Customer.id).where(Customer.created_at == start))):
        rate = rng.gamma(2.0, 1 / 60)  # about one order every 30 days
        stop = 730.0 if rng.random() < 0.5 else rng.uniform(0, 730)
        t, k = rng.uniform(0, 200), 0
        while t < stop:
            at = start + timedelta(days=t)
            orders.append(
                {"customer_id": customer, "source_id": source, "external_id": f"{customer}-{k}",
                 "status": "completed", "currency": "CNY", "total_minor": 10_000, "refunded_minor": 0,
                 "completed_at": at, "properties": {}}
            )  # fmt: skip
            t, k = t + rng.exponential(1 / rate), k + 1
    session.execute(Order.__table__.insert(), orders)
    session.commit()


def test_enough_buyers_train_the_classifier_on_a_time_split(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_PREDICT_CHURN_MIN_CUSTOMERS", "100")
    get_settings.cache_clear()
    simulated_brand(session, 600, seed=4)
    done = service.refresh_all(session, NOW)
    session.commit()
    churn = done.run.metrics["churn"]
    assert churn["method"] == "classifier" and churn["calibration_method"] == "sigmoid"
    assert churn["auc"] > 0.7 and churn["bgnbd_auc"] > 0.6
    assert churn["cutoff"] == (NOW - timedelta(days=90)).isoformat()
    assert churn["train_customers"] + churn["test_customers"] > 100
    assert sum(b["customers"] for b in churn["reliability"]) == churn["test_customers"]
    risks = [p.churn_risk for p in rows(session).values() if p.churn_risk is not None]
    assert len(risks) == done.run.metrics["buyers"] and 0 <= min(risks) <= max(risks) <= 1
    assert date.fromisoformat(done.run.computed_at.date().isoformat()) == NOW.date()


def test_nightly_job_refreshes_and_queues_changed_customers(shop: Session, db_url: str) -> None:
    from siyu.core.database import session_factory
    from siyu.predict import jobs
    from siyu.segments.tables import EvaluationDue
    from siyu.worker.jobs import JOBS

    job = JOBS["predict.nightly"]
    assert job.run is jobs.nightly_refresh and job.schedule is not None
    assert job.schedule(None, NOW) is False  # a daily job waits for its first hour
    assert job.schedule(NOW - timedelta(days=1), NOW) is True
    shop.execute(EvaluationDue.__table__.delete())  # ingestion queued everyone; start empty
    shop.commit()
    customers = jobs.nightly_refresh(session_factory(db_url), NOW)
    shop.expire_all()
    assert customers == len(rows(shop)) and service.latest_run(shop) is not None
    tagged = members(shop, "高流失风险") | members(shop, "高潜力")
    queued = set(shop.scalars(select(EvaluationDue.customer_id)))
    assert tagged and tagged <= queued and cid(shop, "prospect") not in queued


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_purchase_days_are_brand_local_days(
    session: Session, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """Fixed-offset zones take the epoch-arithmetic path on SQLite, DST zones the date() path; both
    must give the brand-local day of each order (New York: EDT until 2026-11-01 06:00 UTC, so 04:30 UTC
    is already 1 November there)."""
    from zoneinfo import ZoneInfo

    from siyu.predict.features import epoch_day, order_history

    monkeypatch.setenv("SIYU_TIMEZONE", zone)
    get_settings.cache_clear()
    times = [NOW.replace(month=3, day=8, hour=h) for h in (4, 6, 8)] + [
        NOW.replace(hour=4, minute=30),
        NOW.replace(hour=17),
    ]
    feed(
        session,
        *(
            _msg("tz", "Order Completed", t, {"order_id": f"tz-{i}", "total": "10"})
            for i, t in enumerate(times)
        ),
    )
    history = order_history(session, NOW.replace(hour=23))
    local = sorted({epoch_day(t.astimezone(ZoneInfo(zone)).date()) for t in times})
    assert len(local) == 3  # a fixed offset for New York would split 1 November in two
    assert history.first_day.tolist() == [local[0]] and history.last_day.tolist() == [local[-1]]
    assert history.purchase_days.tolist() == [len(local)] and history.orders.tolist() == [5]
    assert history.total_minor.tolist() == [5000]
