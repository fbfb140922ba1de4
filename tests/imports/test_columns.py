"""Column plans: default names (English and Chinese), --map, --skip, and errors that name the column."""

from __future__ import annotations

import pytest

from siyu.imports.columns import canonical, parse_maps, plan_columns
from siyu.imports.records import Kind, UnusableInput


def test_customer_defaults_and_traits() -> None:
    plan = plan_columns(Kind.customers, ["User ID", "手机号", "邮箱", "姓名", "会员等级", "unionId", "City"])
    assert plan.targets == {
        "user_id": "User ID",
        "phone": "手机号",
        "email": "邮箱",
        "unionid": "unionId",
        "name": "姓名",
    }
    assert plan.extras == {"会员等级": "会员等级", "City": "City"}


def test_names_match_ignoring_case_and_separators() -> None:
    assert canonical("User_ID") == canonical("user-id") == canonical("userId") == canonical("user id")
    plan = plan_columns(Kind.events, ["userId", "Event Name", "Occurred At"])
    assert plan.targets == {"user_id": "userId", "event": "Event Name", "timestamp": "Occurred At"}


def test_order_defaults() -> None:
    plan = plan_columns(
        Kind.orders, ["订单号", "手机", "下单时间", "实付金额", "商品编号", "单价", "数量", "门店"]
    )
    assert plan.targets == {
        "phone": "手机",
        "order_id": "订单号",
        "completed_at": "下单时间",
        "total": "实付金额",
        "product_id": "商品编号",
        "price": "单价",
        "quantity": "数量",
    }
    assert plan.extras == {"门店": "门店"}


def test_map_overrides_defaults_and_names_free_targets() -> None:
    plan = plan_columns(
        Kind.customers,
        ["phone", "联系手机", "lvl", "备注"],
        parse_maps(["phone=联系手机", "traits.level=lvl", "traits.old_phone=phone"]),
        skip=["备注"],
    )
    assert plan.targets == {"phone": "联系手机"}
    assert plan.extras == {"level": "lvl", "old_phone": "phone"}
    assert plan.skipped == ("备注",)


@pytest.mark.parametrize(
    ("columns", "maps", "extra"),
    [
        (["phone", "手机号"], [], "手机号"),  # two phone columns
        (["user_id", "姓名", "Name"], [], "姓名"),  # `name` comes first among the names
        (["phone", "联系手机"], ["phone=联系手机"], "phone"),  # the one left over still looks like a phone
    ],
)
def test_a_second_personal_column_must_be_chosen_explicitly(
    columns: list[str], maps: list[str], extra: str
) -> None:
    with pytest.raises(UnusableInput) as err:
        plan_columns(Kind.customers, columns, parse_maps(maps))
    assert err.value.field == extra
    assert f"--skip {extra}" in err.value.message


def test_unknown_target_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnusableInput) as err:
        plan_columns(Kind.customers, ["phone"], parse_maps(["mobile_phone=phone"]))
    assert "mobile_phone" in err.value.message
    assert "wecom_external_userid" in err.value.message


def test_missing_source_column_is_named() -> None:
    with pytest.raises(UnusableInput) as err:
        plan_columns(Kind.customers, ["phone", "name"], parse_maps(["email=电子邮件"]))
    assert err.value.field == "电子邮件"
    assert "电子邮件" in err.value.message and "phone, name" in err.value.message


@pytest.mark.parametrize("option", ["phone", "=phone", "phone="])
def test_malformed_map_option(option: str) -> None:
    with pytest.raises(UnusableInput):
        parse_maps([option])


def test_skip_of_a_missing_column() -> None:
    with pytest.raises(UnusableInput) as err:
        plan_columns(Kind.customers, ["phone"], skip=["nope"])
    assert err.value.field == "nope"


@pytest.mark.parametrize(
    ("kind", "columns", "missing"),
    [
        (Kind.orders, ["phone", "date", "total"], "order_id"),
        (Kind.orders, ["order_id", "phone", "total"], "completed_at"),
        (Kind.events, ["user_id", "timestamp"], "event"),
        (Kind.customers, ["name", "city"], "user_id"),
        (Kind.orders, ["order_id", "date", "total"], "user_id"),
    ],
)
def test_required_columns(kind: Kind, columns: list[str], missing: str) -> None:
    with pytest.raises(UnusableInput) as err:
        plan_columns(kind, columns)
    assert err.value.field == missing
    assert ", ".join(columns) in err.value.message
