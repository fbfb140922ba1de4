"""The demo's CRM plan and automation definitions, without a database: live codes and the advisors they
route to, owners, consents and interests drawn reproducibly from the seed, journeys on the memory channel."""

from __future__ import annotations

import random
from collections import Counter

from siyu.demo import automation, catalog, relations, reporting, team
from siyu.demo.generator import DemoCustomer, history_days
from siyu.journeys.playbooks import PLAYBOOKS
from siyu.journeys.schemas import parse_definition
from tests.demo.conftest import ANCHOR, SEED


def _contacts(population: list[DemoCustomer]) -> list[dict[str, object]]:
    return [m.payload for c in population for m in c.messages if m.payload.get("event") == "Contact Added"]


def test_every_live_code_routes_to_an_advisor_of_its_department() -> None:
    stores = tuple(code for code, _city in catalog.STORES)
    codes = team.all_codes(stores, ("douyin", "tmall", "miniprogram"))
    assert {"douyin-0618", "douyin-live", "store-sh-01", "parcel-tmall"} <= set(codes)
    rng = random.Random(1)
    for code in codes:
        advisors = {team.assign(rng, code) for _ in range(60)}
        assert {team.BY_USERID[a].department for a in advisors} == {team.department_of(code)}
        assert len(advisors) == len(team.team(team.department_of(code)))  # everyone gets customers
    assert team.department_of("store-gz-01") == team.SOUTH and team.department_of("store-hz-01") == team.EAST


def test_contacts_carry_the_live_code_as_a_trait_and_name_a_known_advisor(
    population: list[DemoCustomer],
) -> None:
    contacts = _contacts(population)
    assert len(contacts) > 300
    for c in population:
        for i, m in enumerate(c.messages):
            if m.payload.get("event") == "Contact Added":
                identify = c.messages[i - 1].payload
                assert identify["type"] == "identify"
                assert identify["traits"]["live_code"] == m.payload["properties"]["state"]
    codes = Counter(str(p["properties"]["state"]) for p in contacts)  # type: ignore[index]
    assert codes["douyin-0618"] > 0 and codes["douyin-live"] > 0
    assert any(code.startswith("store-") for code in codes) and any(
        code.startswith("parcel-") for code in codes
    )
    assert {str(p["properties"]["advisor"]) for p in contacts} <= {a.userid for a in team.ADVISORS}  # type: ignore[index]


def test_the_plan_is_reproducible_and_plausible(population: list[DemoCustomer]) -> None:
    first = relations.plan(population, SEED, ANCHOR)
    assert first == relations.plan(population, SEED, ANCHOR)
    assert first != relations.plan(population, SEED + 1, ANCHOR)
    assert len(first.owners) == sum(1 for c in population if any(
        m.payload.get("event") == "Contact Added" for m in c.messages))  # fmt: skip
    statuses = Counter((c.channel, c.status) for c in first.consents)
    wecom_granted, wecom_out = statuses[("wecom", "granted")], statuses[("wecom", "unsubscribed")]
    assert 0.9 <= wecom_granted / (wecom_granted + wecom_out) < 1
    sms_granted, sms_out = statuses[("sms", "granted")], statuses[("sms", "unsubscribed")]
    assert 0.85 <= sms_granted / (sms_granted + sms_out) < 0.97
    assert statuses[("any", "unsubscribed")] > 0
    assert all(c.at < ANCHOR for c in first.consents)
    interests = Counter(i.tag for i in first.interests)
    assert set(interests) == set(relations.INTERESTS)
    assert {i.identity for i in first.interests} <= {o.identity for o in first.owners}


def test_spend_follows_the_customers_each_paid_channel_brought(population: list[DemoCustomer]) -> None:
    first_day, last_day = history_days(ANCHOR)
    plan = reporting.spend_plan(population, first_day, last_day)
    assert plan == reporting.spend_plan(population, first_day, last_day)
    assert all(first_day <= s.first <= s.last <= last_day and s.amount_minor > 0 for s in plan)
    douyin = sum(s.amount_minor for s in plan if s.channel == catalog.DOUYIN.source_name)
    bought = sum(1 for c in population if c.plan.first_channel == "douyin")
    assert douyin == int(reporting.CAC["douyin"] * 100) * bought
    assert any(s.channel == "live_code:douyin-0618" for s in plan)


def test_cloned_playbooks_send_only_to_the_memory_channel() -> None:
    params = automation.parameters({"valuable_dormant": 1, "browsers": 2}, {"已发欢迎语": 3, "已唤醒": 4}, 5)
    for key in automation.PLAYBOOKS:
        definition = automation.on_demo_channel(PLAYBOOKS[key].build(**params[key]))
        parsed = parse_definition(definition)
        sends = [n for n in parsed.nodes if n.type == "send"]
        assert sends and {n.channel for n in sends} == {"memory"}
        assert {n.template_id for n in sends} <= set(automation.TEMPLATES)
