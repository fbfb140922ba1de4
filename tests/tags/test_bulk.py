"""Bulk tag/untag: uploaded lists of ids and identities (bad lines reported by number), segments,
merged customers, rule tags refused; tags across a merge and its undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import Conflict, NotFound
from siyu.core.pii import get_vault
from siyu.customers import merges, search
from siyu.segments.tables import Segment, SegmentMember
from siyu.tags import bulk, membership, merging, service
from siyu.tags.tables import CustomerTag, TagChange
from tests.customers.identity_model import ensure_source, send
from tests.tags.conftest import AT, make_customers

MESSAGES = [0]  # message ids stay unique across calls (a repeated id is dropped as a duplicate)


def person(session: Session, user_id: str, phone: str | None = None) -> int:
    traits: dict[str, Any] = {"phone": phone} if phone else {}
    send(
        session, ensure_source(session), [{"type": "identify", "userId": user_id, "traits": traits}], MESSAGES
    )
    (cid,) = search.by_identity(session, get_vault(), f"user_id:{user_id}")
    return cid


def static_tag(session: Session, group: str = "活动", name: str = "双11", exclusive: bool = False) -> int:
    g = service.ensure_group(session, group, category="behavior", kind="static", exclusive=exclusive)
    return service.ensure_tag(session, g.id, name).id


def holders(session: Session, tag_id: int) -> list[int]:
    return sorted(session.scalars(select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag_id)))


def test_parse_lines_numbers_every_line_and_skips_header_blank_and_comments() -> None:
    text = '\ufeffcustomer_id,name\n12,张三\n\n# a comment\n identity phone:13912345678 \n"user_id:u,1",x\n'
    assert bulk.parse_lines(text.splitlines()) == [
        (2, "12"), (5, "identity phone:13912345678"), (6, "user_id:u,1"),
    ]  # fmt: skip
    assert bulk.parse_lines(["7", "customer_id"]) == [(1, "7"), (2, "customer_id")]


def test_list_with_ids_and_identities_reports_bad_lines(session: Session) -> None:
    li = person(session, "u-li", phone="13912345678")
    wang = person(session, "u-wang")
    tag = static_tag(session)
    lines = [
        "customer_id",
        str(li),
        "identity user_id:u-wang",
        "phone:139 1234 5678",  # the same person as the first line, written differently
        "999999999",
        "phone:123",
        "email:nobody@example.com",
        "hello",
        "identity BAD TYPE:x",
    ]
    result = bulk.apply_entries(
        session, get_vault(), tag, add=bulk.parse_lines(lines), actor="import:list.csv", reason=None, at=AT
    )
    assert (result.added, result.unchanged, result.redirected) == (2, 0, 0)
    assert holders(session, tag) == sorted([li, wang])
    assert [(r.line, r.reason.split(":")[0]) for r in result.rejected] == [
        (5, "no customer with id 999999999"),
        (6, "not a possible phone number"),
        (7, "no customer has this identity"),
        (8, "neither a customer id nor an identity TYPE"),
        (9, "identity type 'bad type' must match [a-z][a-z0-9_]*"),
    ]
    assert all(r.list == "add" for r in result.rejected)
    again = bulk.apply_entries(
        session, get_vault(), tag, add=bulk.numbered([li, "user_id:u-wang"]), remove=bulk.numbered([]),
        actor="x", reason=None, at=AT,
    )  # fmt: skip
    assert (again.added, again.unchanged, again.rejected) == (0, 2, [])
    gone = bulk.apply_entries(
        session, get_vault(), tag, remove=bulk.numbered(["phone:13912345678"]), actor="x", reason="x", at=AT
    )
    assert gone.removed == 1 and holders(session, tag) == [wang]


def test_merged_customer_in_a_list_is_applied_to_the_survivor(session: Session) -> None:
    survivor, merged = make_customers(session, 2)
    merges.merge(session, survivor, merged, reason="same person", actor="test")
    tag = static_tag(session)
    result = bulk.apply_entries(
        session, get_vault(), tag, add=bulk.numbered([merged]), actor="x", reason=None, at=AT
    )
    assert (result.added, result.redirected) == (1, 1)
    assert holders(session, tag) == [survivor]


def test_segment_members_are_tagged_and_untagged(session: Session) -> None:
    ids = make_customers(session, 5)
    segment = Segment(name="高价值", kind="static", created_at=AT, updated_at=AT, created_by="test")
    session.add(segment)
    session.flush()
    session.add_all(SegmentMember(segment_id=segment.id, customer_id=c, entered_at=AT) for c in ids[:3])
    session.flush()
    tag = static_tag(session)
    added = bulk.apply_segment(session, tag, segment.id, action="add", actor="user:li", reason=None, at=AT)
    assert (added.added, holders(session, tag)) == (3, ids[:3])
    reasons = set(session.scalars(select(TagChange.reason).where(TagChange.tag_id == tag)))
    assert reasons == {f"segment {segment.id} 高价值"}
    removed = bulk.apply_segment(session, tag, segment.id, action="remove", actor="x", reason="done", at=AT)
    assert (removed.removed, holders(session, tag)) == (3, [])
    with pytest.raises(NotFound) as err:
        bulk.apply_segment(session, tag, 424242, action="add", actor="x", reason=None, at=AT)
    assert err.value.field == "segment_id"


def test_rule_tags_cannot_be_set_by_hand(session: Session) -> None:
    (a,) = make_customers(session, 1)
    g = service.ensure_group(session, "RFM 价值分层", category="value", kind="rule", exclusive=True)
    tier = service.ensure_tag(session, g.id, "重要价值")
    with pytest.raises(Conflict) as err:
        bulk.apply_entries(
            session, get_vault(), tier.id, add=bulk.numbered([a]), actor="x", reason=None, at=AT
        )
    assert err.value.field == "tag_id"


def test_tags_follow_a_merge_and_its_undo(session: Session) -> None:
    survivor, merged = make_customers(session, 2)
    shared, only_merged, only_survivor = (static_tag(session, "兴趣", n) for n in ("护肤", "彩妆", "香水"))
    stage_new, stage_old = (static_tag(session, "阶段", n, exclusive=True) for n in ("新客", "老客"))
    for tag_id, who in [(shared, [survivor, merged]), (only_merged, [merged]), (only_survivor, [survivor]),
                        (stage_new, [survivor]), (stage_old, [merged])]:  # fmt: skip
        service.apply(session, tag_id, add=who, actor="user:li", reason=None, at=AT)
    before = {c: membership.tags_of(session, c) for c in (survivor, merged)}

    record = merges.merge(session, survivor, merged, reason="same phone", actor="test")
    folded = {k: v for k, v in record.moved.items() if k in merging.KEYS}
    names = sorted(t["name"] for t in membership.tags_of(session, survivor))
    assert names == ["彩妆", "护肤", "新客", "香水"]  # the union; the survivor's stage wins
    assert membership.tags_of(session, merged) == []
    assert folded == {"customer_tags": [only_merged], "customer_tags_dropped": sorted([shared, stage_old])}

    merges.undo(session, record.id, actor="test")
    after = {c: membership.tags_of(session, c) for c in (survivor, merged)}
    assert after == before
