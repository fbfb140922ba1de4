"""Importing orders: rows grouped into order lines, exact minor-unit totals, spend stats, rejects, re-runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from siyu.commerce.tables import Order, OrderLine
from siyu.core.database import session_factory
from siyu.events.tables import Event
from tests.imports.conftest import Runner, profile_of, stored_counts
from tests.imports.files import FORMATS, write_table

COLUMNS = ["订单号", "手机号", "下单时间", "商品编号", "商品名称", "单价", "数量", "门店"]
ROWS = [
    ["T-1001", "13912345678", "2024-05-01 10:00:00", "P-01", "精华液", "19.90", "2", "上海店"],
    ["T-1002", "13800001111", "2024-05-02", "P-02", "面霜", "0.10", "3", "北京店"],
    ["T-1001", "13912345678", "2024-05-01 10:00:00", "P-03", "面膜", "0.10", "3", "上海店"],
    ["T-1001", "13912345678", "2024-05-01 10:00:00", "P-01", "精华液", "199.99", "1", "上海店"],
]


def stored_orders() -> dict[str, dict[str, Any]]:
    with session_factory()() as s:
        out = {}
        for order in s.scalars(select(Order).order_by(Order.id)):
            lines = s.scalars(
                select(OrderLine).where(OrderLine.order_pk == order.id).order_by(OrderLine.position)
            )
            out[order.external_id] = {
                "total_minor": order.total_minor,
                "status": order.status,
                "completed_at": order.completed_at,
                "properties": order.properties,
                "lines": [(ln.product_id, ln.name, ln.price_minor, ln.quantity) for ln in lines],
            }
        return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_sharing_an_order_id_are_one_order(fmt: str, tmp_path: Path, run_import: Runner) -> None:
    summary = run_import("orders", write_table(tmp_path / f"orders.{fmt}", COLUMNS, ROWS))

    assert (summary.read, summary.imported, summary.rejected, summary.messages) == (4, 4, 0, 2)
    orders = stored_orders()
    assert orders["T-1001"]["lines"] == [
        ("P-01", "精华液", 1990, 2),
        ("P-03", "面膜", 10, 3),
        ("P-01", "精华液", 19999, 1),
    ]
    assert orders["T-1001"]["total_minor"] == 1990 * 2 + 10 * 3 + 19999  # 24009, no float drift
    assert orders["T-1001"]["completed_at"] == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert orders["T-1001"]["properties"]["门店"] == "上海店"
    assert orders["T-1002"]["total_minor"] == 30
    assert orders["T-1002"]["completed_at"] == datetime(2024, 5, 1, 16, 0, tzinfo=UTC)
    stats = profile_of("phone:13912345678")["stats"]
    assert (stats["orders_count"], stats["total_spent_minor"], stats["total_spent"]) == (1, 24009, "240.09")


def test_order_total_column_wins_and_is_read_exactly(tmp_path: Path, run_import: Runner) -> None:
    columns = ["order_id", "member_id", "date", "total", "currency", "sku", "price", "quantity"]
    rows = [
        ["A-1", "M-7", "2024-06-18", "¥1,299.00", "CNY", "S1", "1399.00", "1"],
        ["A-1", "M-7", "2024-06-18", "¥1,299.00", "CNY", "S2", "0", "1"],
        ["A-2", "M-7", "2024-06-19", "0.30", None, None, None, None],
    ]
    summary = run_import("orders", write_table(tmp_path / "orders.csv", columns, rows))

    assert summary.rejected == 0
    orders = stored_orders()
    assert orders["A-1"]["total_minor"] == 129900
    assert orders["A-2"]["total_minor"] == 30 and orders["A-2"]["lines"] == []
    assert profile_of("member_id:M-7")["stats"]["total_spent_minor"] == 129930


def test_excel_number_cells_stay_exact(tmp_path: Path, run_import: Runner) -> None:
    columns = ["order_id", "phone", "date", "sku", "price", "quantity"]
    rows: list[list[Any]] = [
        ["X-1", 13912345678, datetime(2024, 5, 1, 10, 0), "S1", 19.9, 3],
        ["X-1", 13912345678, datetime(2024, 5, 1, 10, 0), "S2", 0.1, 7],
    ]
    run_import("orders", write_table(tmp_path / "orders.xlsx", columns, rows))

    order = stored_orders()["X-1"]
    assert order["total_minor"] == 1990 * 3 + 10 * 7
    assert order["completed_at"] == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert profile_of("phone:13912345678")["stats"]["orders_count"] == 1


def test_bad_orders_are_rejected_whole_and_good_ones_kept(tmp_path: Path, run_import: Runner) -> None:
    columns = ["order_id", "phone", "date", "sku", "price", "quantity", "currency"]
    rows = [
        ["G-1", "13912345678", "2024-05-01", "S1", "10", "1", None],
        ["B-1", "13912345678", "2024-05-01", "S1", "10", "1", None],
        ["B-1", "13912345678", "2024-05-01", "S2", "ten", "1", None],  # bad price
        ["B-2", "13912345678", "31/12/2024", "S1", "10", "1", None],  # bad date
        ["B-3", "13912345678", "2024-05-01", "S1", "10", "1", "RMB1"],  # the pipeline refuses the currency
        ["B-3", "13912345678", "2024-05-01", "S2", "10", "1", "RMB1"],
        ["B-4", None, "2024-05-01", "S1", "10", "1", None],  # no buyer
        ["G-2", "13800001111", "2024-05-01", "S1", "10", "1.5", None],  # a half item
        ["G-3", "13800001111", "2024-05-02", "S1", "10", "2", None],
    ]
    summary = run_import("orders", write_table(tmp_path / "orders.csv", columns, rows))

    assert (summary.read, summary.imported, summary.rejected) == (9, 2, 7)
    got = {(r.row, r.field) for r in summary.rejects}
    assert got == {
        (3, "price"),
        (4, "price"),
        (5, "date"),
        (6, "currency"),
        (7, "currency"),
        (8, "phone"),
        (9, "quantity"),
    }
    by_row = {r.row: r.reason for r in summary.rejects}
    assert "rejected with row 4" in by_row[3]
    assert "3-letter" in by_row[6] and "rejected with row 6" in by_row[7]
    assert set(stored_orders()) == {"G-1", "G-3"}
    assert stored_counts()["order_lines"] == 2


def test_rerunning_orders_changes_nothing(tmp_path: Path, run_import: Runner) -> None:
    path = write_table(tmp_path / "orders.csv", COLUMNS, ROWS)
    run_import("orders", path)
    before = stored_counts()

    again = run_import("orders", path)

    assert stored_counts() == before
    assert before["orders"] == 2 and before["order_lines"] == 4 and before["spent_minor"] == 24009 + 30
    assert (again.imported, again.duplicates, again.rejected) == (0, 4, 0)


def test_line_level_columns_stay_on_their_lines(tmp_path: Path, run_import: Runner) -> None:
    columns = ["order_id", "user_id", "date", "sku", "price", "颜色", "渠道"]
    rows = [
        ["C-1", "u-1", "2024-05-01", "S1", "1", "红", "天猫"],
        ["C-1", "u-1", "2024-05-01", "S2", "2", "蓝", "天猫"],
    ]
    summary = run_import("orders", write_table(tmp_path / "orders.jsonl", columns, rows))
    assert summary.rejected == 0
    order = stored_orders()["C-1"]
    assert order["properties"]["渠道"] == "天猫" and "颜色" not in order["properties"]
    with session_factory()() as s:
        products = s.scalars(select(Event.properties).where(Event.name == "Order Completed")).one()[
            "products"
        ]
    assert [p["颜色"] for p in products] == ["红", "蓝"]


def test_jsonl_numbers_keep_their_digits(tmp_path: Path, run_import: Runner) -> None:
    path = tmp_path / "orders.jsonl"
    order = '"order_id": 98765432109876543210, "user_id": "u-1", "date": "2024-05-01"'
    path.write_text(
        f'{{{order}, "price": 0.1, "quantity": 3}}\n{{{order}, "price": 0.2, "quantity": 1}}\n',
        encoding="utf-8",
    )
    summary = run_import("orders", path)
    assert summary.rejected == 0
    assert stored_orders()["98765432109876543210"]["total_minor"] == 50


def test_receiver_personal_data_stays_out_of_order_properties(tmp_path: Path, run_import: Runner) -> None:
    columns = ["order_id", "user_id", "date", "total", "收货人", "收货地址", "id_card", "渠道"]
    rows = [["R-1", "u-1", "2024-05-01", "10", "王五", "上海市徐汇区某路1号", "310101199001011234", "天猫"]]
    summary = run_import("orders", write_table(tmp_path / "orders.csv", columns, rows))

    assert summary.rejected == 0
    assert stored_orders()["R-1"]["properties"] == {"order_id": "R-1", "total": "10", "渠道": "天猫"}
    with session_factory()() as s:
        event = s.scalars(select(Event).where(Event.name == "Order Completed")).one()
    assert "王五" not in str(event.context) and "310101" not in str(event.context)
    assert "上海市" not in str(event.properties) and event.pii_enc is not None
