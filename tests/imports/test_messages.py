"""The pure core: rows → Segment messages, stable message ids, pseudonymous ids, orders grouped into lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from siyu.commerce import ecommerce
from siyu.core.pii import Vault
from siyu.core.settings import Settings
from siyu.events.spec import parse_message
from siyu.imports.columns import plan_columns
from siyu.imports.messages import Context, build_rows
from siyu.imports.orders import build_orders
from siyu.imports.records import Built, Kind, Reject, Row

CTX = Context(ZoneInfo("Asia/Shanghai"), Vault(Settings()))


def rows(columns: list[str], *values: list[Any], first: int = 2) -> list[Row]:
    return [Row(first + i, dict(zip(columns, v, strict=True))) for i, v in enumerate(values)]


def customers(columns: list[str], *values: list[Any]) -> tuple[list[Built], list[Reject]]:
    return build_rows(Kind.customers, rows(columns, *values), plan_columns(Kind.customers, columns), CTX)


def test_customer_row_becomes_identify_with_traits() -> None:
    built, rejects = customers(["user_id", "mobile", "姓名", "等级"], ["u1", "013912345678", "张三", "gold"])
    assert rejects == []
    message = built[0].message
    assert message["type"] == "identify" and message["userId"] == "u1"
    assert message["traits"] == {"phone": "013912345678", "name": "张三", "等级": "gold"}
    assert "anonymousId" not in message
    assert built[0].rows == [2]


def test_message_id_depends_on_content_not_on_column_names_or_order() -> None:
    a, _ = customers(["user_id", "phone", "level"], ["u1", "13912345678", "gold"])
    b, _ = customers(["phone", "level", "uid"], ["13912345678", "gold", "u1"])
    c, _ = customers(["user_id", "phone", "level"], ["u1", "13912345678", "silver"])
    assert a[0].message_id == b[0].message_id
    assert a[0].message_id != c[0].message_id
    assert a[0].message_id.startswith("import-customers-")


def test_message_id_is_keyed_so_it_does_not_reveal_the_phone() -> None:
    built, _ = customers(["phone"], ["13912345678"])
    other_keys = Context(CTX.zone, Vault(Settings(blind_index_key="another-key")))
    again, _ = build_rows(
        Kind.customers, rows(["phone"], ["13912345678"]), plan_columns(Kind.customers, ["phone"]), other_keys
    )
    assert built[0].message_id != again[0].message_id
    assert "13912345678" not in built[0].message["anonymousId"]


def test_rows_without_user_id_get_a_stable_pseudonymous_anonymous_id() -> None:
    built, _ = customers(
        ["phone", "member_id", "city"],
        ["139 1234 5678", None, "上海"],
        ["+86 13912345678", None, "北京"],
        ["13800000000", "M-1", None],
    )
    first, second, third = (b.message for b in built)
    assert first["anonymousId"] == second["anonymousId"]  # same number, written differently
    assert third["anonymousId"] != first["anonymousId"]
    assert third["anonymousId"].startswith("import-")  # from member_id, the stronger identity


def test_customer_rejects_name_row_and_column() -> None:
    built, rejects = customers(
        ["user_id", "phone", "updated_at"],
        ["u1", None, "2024-05-01"],
        [None, None, "2024-05-01"],
        [None, "12", None],
        ["u4", None, "someday"],
    )
    assert [b.rows for b in built] == [[2]]
    assert [(r.row, r.field) for r in rejects] == [(3, "user_id"), (4, "phone"), (5, "updated_at")]
    assert "no customer identity" in rejects[0].reason


def test_events_properties_from_json_column_and_other_columns() -> None:
    columns = ["anonymous_id", "event", "time", "properties", "channel"]
    plan = plan_columns(Kind.events, columns)
    built, rejects = build_rows(
        Kind.events,
        rows(
            columns,
            ["a1", "Coupon Claimed", "2024-05-01 08:00", '{"coupon": "NEW10", "value": 5.5}', "douyin"],
        ),
        plan,
        CTX,
    )
    assert rejects == []
    message = built[0].message
    assert message["event"] == "Coupon Claimed"
    assert message["properties"] == {"coupon": "NEW10", "value": "5.5", "channel": "douyin"}
    assert message["timestamp"] == "2024-05-01T00:00:00Z"
    parsed = parse_message(message, received_at=datetime(2026, 1, 1, tzinfo=UTC), batch_sent_at=None)
    assert parsed.anonymous_id == "a1"


def test_identical_event_rows_keep_distinct_stable_ids() -> None:
    columns = ["user_id", "event", "timestamp"]
    plan = plan_columns(Kind.events, columns)
    same = ["u1", "Page Viewed", "2024-05-01 08:00"]
    first, _ = build_rows(Kind.events, rows(columns, same, same, same), plan, CTX)
    again, _ = build_rows(Kind.events, rows(columns, same, same), plan, CTX)
    ids = [b.message_id for b in first]
    assert len(set(ids)) == 3
    assert [b.message_id for b in again] == ids[:2]


def test_event_with_empty_timestamp_cell_is_rejected() -> None:
    columns = ["user_id", "event", "timestamp"]
    built, rejects = build_rows(
        Kind.events, rows(columns, ["u1", "Signed Up", None]), plan_columns(Kind.events, columns), CTX
    )
    assert built == [] and rejects == [Reject(2, "timestamp", "timestamp is empty")]


ORDER_COLUMNS = ["order_id", "phone", "date", "sku", "product_name", "price", "quantity", "store", "color"]


def orders(*values: list[Any]) -> tuple[list[Built], list[Reject]]:
    return build_orders(rows(ORDER_COLUMNS, *values), plan_columns(Kind.orders, ORDER_COLUMNS), CTX)


def test_rows_of_one_order_become_lines_with_an_exact_total() -> None:
    built, rejects = orders(
        ["A1", "13912345678", "2024-05-01 10:00", "S1", "精华", "19.90", "2", "上海店", "red"],
        ["B7", "13800000000", "2024-05-02", "S1", "精华", "19.9", "1", "北京店", None],
        ["A1", "13912345678", "2024-05-01 10:00", "S2", "面霜", "0.10", "3", "上海店", "blue"],
    )
    assert rejects == []
    a1, b7 = built
    assert a1.rows == [2, 4] and a1.line_rows == [2, 4] and b7.rows == [3]
    props = a1.message["properties"]
    assert props["order_id"] == "A1" and props["store"] == "上海店"
    assert props["products"] == [
        {"sku": "S1", "name": "精华", "price": "19.90", "quantity": "2", "color": "red"},
        {"sku": "S2", "name": "面霜", "price": "0.10", "quantity": "3", "color": "blue"},
    ]
    assert a1.message["event"] == "Order Completed"
    assert a1.message["timestamp"] == "2024-05-01T02:00:00Z"
    assert a1.message["context"]["traits"] == {"phone": "13912345678"}
    action = ecommerce.parse("Order Completed", props, "CNY")
    assert action is not None and action.amounts["total"] == 19_90 * 2 + 10 * 3


def test_a_bad_row_rejects_its_whole_order_only() -> None:
    built, rejects = orders(
        ["A1", "13912345678", "2024-05-01", "S1", None, "19.90", "2", None, None],
        ["A1", "13912345678", "2024-05-01", "S2", None, "abc", "1", None, None],
        ["A2", "13912345678", "2024-05-01", "S2", None, "5", "1", None, None],
        [None, "13912345678", "2024-05-01", "S2", None, "5", "1", None, None],
    )
    assert [b.message["properties"]["order_id"] for b in built] == ["A2"]
    assert [(r.row, r.field) for r in rejects] == [(2, "price"), (3, "price"), (5, "order_id")]
    assert rejects[1].reason.startswith("price must be a number")
    assert "rejected with row 3" in rejects[0].reason


def test_rows_of_one_order_must_agree_on_the_buyer() -> None:
    built, rejects = orders(
        ["A1", "13912345678", "2024-05-01", "S1", None, "1", "1", None, None],
        ["A1", "13800000000", "2024-05-01", "S2", None, "1", "1", None, None],
    )
    assert built == []
    assert {r.row for r in rejects} == {2, 3}
    assert all(r.field == "phone" and "disagree on phone" in r.reason for r in rejects)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("properties.products[1].price", (4, "price")),
        ("properties.products[0]", (2, "properties.products[0]")),
        ("context.traits.phone", (2, "phone")),
        ("timestamp", (2, "date")),
        ("message", (2, "message")),
    ],
)
def test_pipeline_errors_map_back_to_rows_and_columns(field: str, expected: tuple[int, str]) -> None:
    built, _ = orders(
        ["A1", "13912345678", "2024-05-01", "S1", None, "1", "1", None, None],
        ["B1", "13912345678", "2024-05-01", "S1", None, "1", "1", None, None],
        ["A1", "13912345678", "2024-05-01", "S2", None, "1", "1", None, None],
    )
    assert built[0].locate(field) == expected
    rejects = built[0].rejects(field, "bad")
    assert [r.row for r in rejects] == [2, 4]


def test_order_level_cells_may_be_blank_on_later_rows() -> None:
    built, rejects = orders(
        ["A1", "13912345678", "2024-05-01 10:00", "S1", None, "19.90", "2", "上海店", None],
        ["A1", None, None, "S2", None, "0.10", "3", None, None],
        ["A2", None, "2024-05-02", "S1", None, "1", "1", None, None],  # nobody bought it
        ["A2", None, None, "S2", None, "1", "1", None, None],
        ["A3", "13912345678", None, "S1", None, "1", "1", None, None],  # no date on any row
    )
    assert len(built) == 1
    props = built[0].message["properties"]
    assert [p["sku"] for p in props["products"]] == ["S1", "S2"]
    assert built[0].message["context"]["traits"] == {"phone": "13912345678"}
    assert built[0].message["timestamp"] == "2024-05-01T02:00:00Z"
    assert props["store"] == "上海店"  # written on the order's first row only, as exports do
    assert [(r.row, r.field) for r in rejects] == [(4, "phone"), (5, "phone"), (6, "date")]
    assert "on every row of order 'A2'" in rejects[0].reason
    assert rejects[2].reason == "date is empty"
