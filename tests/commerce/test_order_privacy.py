"""Orders keep receiver data out of plain-text columns; over-long order ids are refused, not truncated."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.customers.identity_model import ensure_source, send


def test_order_properties_hold_no_personal_data(session: Session) -> None:
    source_id = ensure_source(session)
    report = send(
        session,
        source_id,
        [
            {
                "type": "track",
                "userId": "buyer",
                "event": "Order Completed",
                "properties": {
                    "order_id": "A1",
                    "total": "88.00",
                    "phone": "13912345678",
                    "收货地址": "上海市某路1号",
                },
            }
        ],
        [0],
    )
    assert report.accepted == 1
    (props,) = session.execute(text("SELECT properties FROM orders")).one()
    dumped = str(props)
    assert "A1" in dumped
    assert "13912345678" not in dumped and "上海市某路1号" not in dumped


def test_long_order_ids_are_rejected(session: Session) -> None:
    source_id = ensure_source(session)
    report = send(
        session,
        source_id,
        [
            {
                "type": "track",
                "userId": "b",
                "event": "Order Completed",
                "properties": {"order_id": "x" * 129, "total": 1},
            }
        ],
        [0],
    )
    assert report.accepted == 0
    assert report.errors[0].field == "properties.order_id"
