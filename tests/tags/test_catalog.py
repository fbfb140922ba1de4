"""The taxonomy: create, update, archive and list groups and tags; every refusal names its field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, SiyuError, ValidationFailed
from siyu.tags import catalog, service
from siyu.tags.schemas import TagCreate, TagGroupCreate, TagGroupUpdate, TagUpdate
from siyu.tags.tables import CustomerTag, TagChange
from tests.tags.conftest import AT, make_customers

RULE = {"type": "order", "metric": "count", "op": "gte", "value": 3, "window": {"last_days": 90}}


def group(session: Session, name: str = "兴趣", **kw: Any) -> int:
    return catalog.create_group(session, TagGroupCreate(name=name, **kw)).id


def tag(session: Session, group_id: int, name: str, **kw: Any) -> int:
    return catalog.create_tag(session, TagCreate(group_id=group_id, name=name, **kw)).id


def field_of(call: Any) -> str | None:
    with pytest.raises(SiyuError) as err:
        call()
    return err.value.field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a", "category": "hobby"}, "category"),
        ({"name": "a", "kind": "manual"}, "kind"),
        ({"name": "a", "colour": "red"}, "colour"),
    ],
)
def test_group_body_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        TagGroupCreate(**body)
    assert err.value.errors()[0]["loc"][0] == field


def test_names_are_trimmed_and_unique(session: Session) -> None:
    gid = group(session, "  兴趣  ", category="interest")
    assert catalog.get_group(session, gid).name == "兴趣"
    assert field_of(lambda: group(session, "兴趣")) == "name"
    t = tag(session, gid, " 护肤 ")
    assert catalog.get_tag(session, t).name == "护肤"
    assert field_of(lambda: tag(session, gid, "护肤")) == "name"
    other = group(session, "来源", category="source")
    tag(session, other, "护肤")  # the same name in another group is fine
    second = tag(session, gid, "彩妆")
    assert field_of(lambda: catalog.update_tag(session, second, TagUpdate(name="护肤"))) == "name"
    assert field_of(lambda: catalog.update_group(session, other, TagGroupUpdate(name="兴趣"))) == "name"


def test_rules_belong_to_rule_groups_only(session: Session) -> None:
    static = group(session, "手工")
    rules = group(session, "频次", category="behavior", kind="rule")
    assert field_of(lambda: tag(session, static, "a", rule=RULE)) == "rule"
    assert field_of(lambda: tag(session, rules, "a")) == "rule"
    assert field_of(lambda: tag(session, rules, "a", rule={"type": "order", "metric": "count"})) == "rule.op"
    assert field_of(lambda: tag(session, rules, "a", rule={"type": "nope"})) == "rule"
    high = tag(session, rules, "高频", rule=RULE)
    assert catalog.describe_tag(session, high).rule_version == 1
    catalog.update_tag(session, high, TagUpdate(rule={**RULE, "value": 5}))
    catalog.update_tag(session, high, TagUpdate(description="3+ orders"))
    shown = catalog.describe_tag(session, high)
    assert (shown.rule_version, shown.rule, shown.description) == (2, {**RULE, "value": 5}, "3+ orders")
    itself = {"type": "tag", "tag_id": high}
    assert field_of(lambda: catalog.update_tag(session, high, TagUpdate(rule=itself))) == "rule"
    assert field_of(lambda: catalog.update_tag(session, high, TagUpdate(rule=None))) == "rule"


def test_group_becomes_exclusive_only_when_nobody_has_two(session: Session) -> None:
    a, b = make_customers(session, 2)
    gid = group(session, "会员等级")
    gold, silver = tag(session, gid, "金卡"), tag(session, gid, "银卡")
    service.apply(session, gold, add=[a, b], actor="t", reason=None, at=AT)
    service.apply(session, silver, add=[a], actor="t", reason=None, at=AT)
    with pytest.raises(Conflict) as err:
        catalog.update_group(session, gid, TagGroupUpdate(exclusive=True))
    assert err.value.field == "exclusive" and "1 customer" in err.value.message
    service.apply(session, silver, remove=[a], actor="t", reason=None, at=AT)
    assert catalog.update_group(session, gid, TagGroupUpdate(exclusive=True)).exclusive


def test_archive_needs_force_when_customers_carry_the_tag(session: Session) -> None:
    a, b = make_customers(session, 2)
    gid = group(session)
    t, spare = tag(session, gid, "护肤"), tag(session, gid, "彩妆")
    service.apply(session, t, add=[a, b], actor="user:li", reason=None, at=AT)
    assert field_of(lambda: catalog.archive_tag(session, t, actor="user:li", force=False)) == "force"
    assert catalog.archive_tag(session, spare, actor="user:li", force=False).archived_at is not None
    archived = catalog.archive_tag(session, t, actor="user:wang", force=True)
    assert archived.archived_at is not None
    assert session.scalars(select(CustomerTag).where(CustomerTag.tag_id == t)).all() == []
    removals = session.execute(
        select(TagChange.customer_id, TagChange.actor, TagChange.reason).where(
            TagChange.tag_id == t, TagChange.action == "removed"
        )
    ).all()
    assert sorted(removals) == [(a, "user:wang", "tag archived"), (b, "user:wang", "tag archived")]
    with pytest.raises(Conflict):
        service.apply(session, t, add=[a], actor="x", reason=None, at=AT)
    assert [x.name for x in catalog.list_tags(session)] == []
    assert sorted(x.name for x in catalog.list_tags(session, archived=True)) == ["彩妆", "护肤"]


def test_archiving_a_group_archives_its_tags(session: Session) -> None:
    (a,) = make_customers(session, 1)
    gid = group(session)
    t = tag(session, gid, "护肤")
    service.apply(session, t, add=[a], actor="x", reason=None, at=AT)
    assert field_of(lambda: catalog.archive_group(session, gid, actor="x", force=False)) == "force"
    catalog.archive_group(session, gid, actor="x", force=True)
    assert catalog.list_groups(session) == []
    assert catalog.get_tag(session, t).archived_at is not None
    assert field_of(lambda: tag(session, gid, "新")) == "group_id"


def test_list_counts_members(session: Session) -> None:
    ids = make_customers(session, 5)
    gid = group(session)
    t1, t2, t3 = tag(session, gid, "a"), tag(session, gid, "b"), tag(session, gid, "c")
    service.apply(session, t1, add=ids, actor="x", reason=None, at=AT)
    service.apply(session, t2, add=ids[:2], actor="x", reason=None, at=AT)
    counts = {x.name: x.members for x in catalog.list_tags(session)}
    assert counts == {"a": 5, "b": 2, "c": 0}
    assert {x.name: x.members for x in catalog.list_tags(session, group_id=gid)} == counts
    groups = catalog.list_groups(session)
    assert [(g.name, g.tags_count, g.category_label, g.kind_label) for g in groups] == [
        ("兴趣", 3, "自定义", "手动/导入")
    ]
    assert catalog.describe_tag(session, t3).members == 0
    with pytest.raises(ValidationFailed):
        catalog.create_tag(session, TagCreate(group_id=gid, name="d", rule=RULE))


def test_a_saved_rule_tag_has_its_holders_at_once_and_follows_rule_edits(session: Session) -> None:
    from siyu.core.pii import get_vault
    from siyu.customers import search
    from siyu.tags import membership
    from tests.customers.identity_model import ensure_source, send

    source_id = ensure_source(session)
    people = [
        {"type": "identify", "userId": u, "traits": {"city": c}} for u, c in (("sh", "上海"), ("bj", "北京"))
    ]
    send(session, source_id, people, [0])
    shanghai, beijing = (search.by_identity(session, get_vault(), f"user_id:{u}")[0] for u in ("sh", "bj"))
    gid = group(session, "城市规则", kind="rule")
    city_is = lambda c: {"type": "trait", "name": "city", "op": "eq", "value": c}  # noqa: E731
    tag_id = catalog.create_tag(session, TagCreate(group_id=gid, name="上海客户", rule=city_is("上海"))).id
    holders = lambda cid: [t["id"] for t in membership.tags_of(session, cid)]  # noqa: E731
    assert (holders(shanghai), holders(beijing)) == ([tag_id], [])

    catalog.update_tag(session, tag_id, TagUpdate(rule=city_is("北京")))
    assert (holders(shanghai), holders(beijing)) == ([], [tag_id])
