"""Definitions in words (pure): every segment condition type, journey steps and triggers, what explain saw,
in 中文 and English; every condition the language accepts can be put in words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.segments.schemas import CONDITION_TYPES, parse_definition
from siyu.web import condition_text as words
from siyu.web import journey_text as steps

NAMES = words.Names(tags={12: "兴趣 · 敏感肌"}, segments={4: "高价值沉睡"})


def zh(node: dict[str, Any]) -> str:
    return words.leaf_text("zh", node, NAMES)


def en(node: dict[str, Any]) -> str:
    return words.leaf_text("en", node, NAMES)


def test_the_example_from_the_brief() -> None:
    node = {
        "type": "event_count",
        "event": "Product Viewed",
        "where": [{"property": "category", "op": "eq", "value": "精华"}],
        "window": {"last_days": 7},
        "op": "gte",
        "value": 3,
    }
    assert zh(node) == "近 7 天 浏览商品（品类=精华）≥ 3 次"
    assert en(node) == "Product Viewed (category = 精华) ≥ 3 times in the last 7 days"
    no_filter = {"type": "event_count", "event": "Signed Up", "op": "lt", "value": 1}
    assert zh(no_filter) == "累计 Signed Up < 1 次"
    between = {**node, "where": [], "window": {"between": ["2026-11-01", "2026-11-11"]}}
    assert zh(between) == "2026-11-01 至 2026-11-11 浏览商品 ≥ 3 次"


def test_each_leaf_type_in_both_languages() -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"type": "trait", "name": "plan", "op": "in", "value": ["gold", "vip"]},
            "属性 plan 属于 gold、vip",
            "trait plan is one of gold, vip",
        ),
        ({"type": "trait", "name": "phone", "op": "exists"}, "属性 phone 有值", "trait phone is set"),
        (
            {"type": "trait", "name": "birthday", "op": "anniversary_within_days", "value": 7},
            "属性 birthday 的周年日在未来 7 天内（含今天）",
            "anniversary of trait birthday within the next 7 days (today included)",
        ),
        ({"type": "identity", "identity_type": "phone"}, "有身份：手机号", "has identity: Phone"),
        (
            {"type": "identity", "identity_type": "unionid", "present": False},
            "没有身份：UnionID",
            "has no identity: UnionID",
        ),
        ({"type": "tag", "tag_id": 12}, "有标签「兴趣 · 敏感肌」", "has tag “兴趣 · 敏感肌”"),
        ({"type": "tag", "tag_id": 99, "has": False}, "没有标签「#99」", "does not have tag “#99”"),
        (
            {"type": "order", "metric": "spend", "op": "gte", "value": 1000, "window": {"last_days": 30}},
            "近 30 天 消费金额 ≥ ¥1,000",
            "spend in the last 30 days ≥ ¥1,000",
        ),
        ({"type": "order", "metric": "count", "op": "gte", "value": 2}, "订单数 ≥ 2", "orders ≥ 2"),
        (
            {"type": "order", "metric": "last_order_at", "op": "before_days_ago", "value": 60},
            "最近下单在 60 天前或更早",
            "last order 60 or more days ago",
        ),
        (
            {"type": "order", "metric": "first_order_at", "op": "after", "value": "2026-11-01"},
            "首次下单在 2026-11-01 或之后",
            "first order on or after 2026-11-01",
        ),
        (
            {"type": "order", "metric": "last_order_at", "op": "not_exists"},
            "没有下单记录",
            "has never ordered",
        ),
        (
            {"type": "bought", "category": "面霜", "window": {"last_days": 180}},
            "近 180 天 买过品类「面霜」",
            "bought category “面霜” in the last 180 days",
        ),
        (
            {"type": "rfm", "tiers": ["important_value", "general_win_back"]},
            "RFM 分层属于 重要价值、一般挽留",
            "RFM tier is one of Important value, General to win back",
        ),
        ({"type": "rfm", "score": "r", "op": "gte", "value": 4}, "RFM R 分 ≥ 4", "RFM R score ≥ 4"),
        (
            {"type": "lifecycle", "stages": ["dormant", "churned"]},
            "生命周期阶段属于 沉睡、流失",
            "lifecycle stage is one of Dormant, Churned",
        ),
        (
            {"type": "owner", "departments": ["华东"]},
            "归属部门属于 华东",
            "owner's department is one of 华东",
        ),
        ({"type": "owner", "has_owner": False}, "没有归属员工", "has no owner"),
        (
            {"type": "live_code", "codes": ["douyin-0618"]},
            "来自渠道活码 douyin-0618",
            "came through live code douyin-0618",
        ),
        (
            {"type": "consent", "channel": "wecom"},
            "企业微信·营销授权：已授权",
            "WeCom marketing consent: granted",
        ),
        (
            {"type": "segment", "segment_id": 4, "member": False},
            "不属于分群「高价值沉睡」",
            "not in segment “高价值沉睡”",
        ),
    ]
    for node, chinese, english in cases:
        assert zh(node) == chinese, node
        assert en(node) == english, node


def test_groups_become_a_tree_and_a_sentence() -> None:
    root = {
        "type": "and",
        "children": [
            {"type": "tag", "tag_id": 12},
            {"type": "not", "child": {"type": "lifecycle", "stages": ["churned"]}},
        ],
    }
    phrase = words.describe("zh", root, NAMES)
    assert phrase.text == "同时满足以下全部条件"
    assert [c.text for c in phrase.children] == ["有标签「兴趣 · 敏感肌」", "不满足以下条件"]
    assert phrase.children[1].children[0].text == "生命周期阶段属于 流失"
    assert words.sentence("zh", root, NAMES) == "(有标签「兴趣 · 敏感肌」 并且 并非（生命周期阶段属于 流失）)"
    assert (
        words.sentence("en", root, NAMES)
        == "(has tag “兴趣 · 敏感肌” and not (lifecycle stage is one of Churned))"
    )


LEAVES = st.sampled_from(
    [
        {"type": "trait", "name": "city", "op": "eq", "value": "上海"},
        {"type": "trait", "name": "age", "op": "gte", "value": 30},
        {"type": "identity", "identity_type": "wecom_external_userid"},
        {"type": "tag", "tag_id": 3, "has": False},
        {"type": "event_count", "event": "$page", "window": {"last_days": 30}, "op": "lt", "value": 2},
        {"type": "order", "metric": "aov", "op": "gt", "value": 299.5},
        {"type": "order", "metric": "last_order_at", "op": "within_last_days", "value": 7},
        {"type": "bought", "sku": "SKU-1"},
        {"type": "rfm", "score": "m", "op": "eq", "value": 5},
        {"type": "owner", "staff": ["zhaoxiuxuan"]},
        {"type": "consent", "channel": "sms", "purpose": "service", "status": "unsubscribed"},
        {"type": "segment", "segment_id": 4},
    ]
)
TREES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda kids: {"type": "and", "children": kids}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda kids: {"type": "or", "children": kids}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda kid: {"type": "not", "child": kid}, inner),
    ),
    max_leaves=8,
)


def _count(phrase: words.Phrase) -> int:
    return 1 + sum(_count(c) for c in phrase.children)


@settings(max_examples=60, deadline=None)
@given(TREES)
def test_every_valid_tree_is_put_in_words(root: dict[str, Any]) -> None:
    stored = parse_definition({"version": 1, "root": root}).model_dump(mode="json", exclude_none=True)["root"]
    for lang in ("zh", "en"):
        phrase = words.describe(lang, stored, NAMES)
        assert _count(phrase) == len(_walk(stored))
        for text in _texts(phrase):
            assert text and "{" not in text and "cond_" not in text and "None" not in text
        assert words.sentence(lang, stored, NAMES)


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for k in words.kids(node) for n in _walk(dict(k))]


def _texts(phrase: words.Phrase) -> list[str]:
    return [phrase.text] + [t for c in phrase.children for t in _texts(c)]


def test_every_condition_type_has_words() -> None:
    leaves = ("trait", "identity", "tag", "event_count", "order", "bought", "rfm", "lifecycle", "owner")
    assert set(CONDITION_TYPES) == {*words.GROUPS, *leaves, "live_code", "consent", "segment"}
    assert "条件" in zh({"type": "future_kind"})


def test_what_explain_saw() -> None:
    seen = {"count": 2, "counted_from": "daily rollups", "window": {"from": "2026-11-17", "to": "2026-11-23"}}
    assert words.seen_items("zh", seen) == [
        ("次数", "2"),
        ("数据来源", "每日汇总"),
        ("时间窗", "2026-11-17 至 2026-11-23"),
    ]
    assert words.seen_items("en", {"tier": "important_value", "has": False, "staff": None}) == [
        ("RFM tier", "Important value"),
        ("has the tag", "no"),
        ("owner", "—"),
    ]
    when = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert words.seen_items("zh", {"last_order_at": when, "spend": "498.00"}) == [
        ("最近下单", "2026-03-03 10:00"),
        ("消费金额", "¥498.00"),
    ]


def test_journey_steps_in_words() -> None:
    assert steps.node_text(
        "zh", {"type": "wait", "delay": {"type": "duration", "days": 1, "hours": 2}}, NAMES
    ) == ("等待 1 天 2 小时")
    assert steps.node_text(
        "en", {"type": "wait", "delay": {"type": "time_of_day", "at": "10:00"}}, NAMES
    ) == ("wait 10:00 customer's local time")
    wait_event = {
        "type": "wait_event",
        "event": "Order Completed",
        "timeout": {"type": "duration", "days": 3},
    }
    assert steps.node_text("zh", wait_event, NAMES) == "等待 完成订单，最多 3 天"
    send = {"type": "send", "channel": "sms_aliyun", "template_id": "ack", "purpose": "service"}
    send["priority"] = "urgent"
    assert steps.node_text("zh", send, NAMES) == "通过短信（阿里云）发送模板 ack（服务），紧急"
    task = {"type": "task", "title": "回访", "sla_hours": 24, "done": "a", "not_done_in_time": "b"}
    assert steps.node_text("zh", task, NAMES) == "顾问任务：回访（24 小时内完成）"
    assert steps.successors("zh", task) == [("完成", "a"), ("未按时完成", "b")]
    split = {"type": "split", "holdout_percent": 10, "variants": [{"name": "A", "weight": 50, "next": "x"}]}
    assert steps.node_text("en", split, NAMES) == "split A 50, holdout 10%"
    assert steps.successors("en", split) == [("A", "x")]
    condition = {"type": "condition", "condition": {"type": "segment", "segment_id": 4}}
    assert steps.node_text("zh", condition, NAMES) == "属于分群「高价值沉睡」"
    assert steps.node_text("en", {"type": "tag", "action": "remove", "tag_id": 12}, NAMES) == (
        "remove tag “兴趣 · 敏感肌”"
    )


def test_journey_triggers_reentry_and_goal_in_words() -> None:
    birthday = {"type": "date_trait", "trait": "birthday", "at": "10:00", "annual": True, "offset_days": 0}
    assert steps.trigger_text("zh", birthday, NAMES) == "日期属性 birthday 的 10:00（每年）"
    replenish = {"type": "date_trait", "trait": "expected_replenish_date", "offset_days": -15, "at": "10:00"}
    assert steps.trigger_text("zh", replenish, NAMES) == "日期属性 expected_replenish_date 前 15 天 的 10:00"
    assert steps.trigger_text("en", {"type": "segment_entered", "segment_id": 4}, NAMES) == (
        "enters segment “高价值沉睡”"
    )
    assert steps.trigger_text("zh", {"type": "schedule", "cron": "0 10 * * 1", "segment_id": 4}, NAMES) == (
        "定时 0 10 * * 1，对分群「高价值沉睡」"
    )
    assert steps.reentry_text("zh", {"type": "after_days", "days": 30}) == "30 天后可以再次进入。"
    assert steps.reentry_text("en", None) == "Each customer enters once."
    goal = {"event": "Order Completed", "within_hours": 168, "exit_on_goal": True}
    assert steps.goal_text("zh", goal) == "转化目标：进入后 168 小时内 完成订单，达成即结束"
    assert steps.goal_text("en", None) is None
