"""Property tests of the pure core: stable message ids, exact order totals, brand-zone times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.commerce import ecommerce
from siyu.core.pii import Vault
from siyu.core.settings import Settings
from siyu.imports.columns import plan_columns
from siyu.imports.messages import Context, build_rows
from siyu.imports.orders import build_orders
from siyu.imports.records import Kind, Row
from siyu.imports.values import parse_when

CTX = Context(ZoneInfo("Asia/Shanghai"), Vault(Settings()))
names = st.text(alphabet="abcdefghij等级城市", min_size=1, max_size=6)
cells = st.one_of(st.none(), st.text(alphabet="0123456789abc 上海-", max_size=8))


@settings(max_examples=60, deadline=None)
@given(traits=st.dictionaries(names, cells, max_size=5), seed=st.integers(0, 1000))
def test_ids_depend_on_content_only(traits: dict[str, str | None], seed: int) -> None:
    columns = ["user_id", *traits]
    row = ["u-1", *traits.values()]
    built, _ = build_rows(
        Kind.customers,
        [Row(2, dict(zip(columns, row, strict=True)))],
        plan_columns(Kind.customers, columns),
        CTX,
    )

    shuffled = list(zip(columns, row, strict=True))
    random.Random(seed).shuffle(shuffled)
    again, _ = build_rows(
        Kind.customers, [Row(9, dict(shuffled))], plan_columns(Kind.customers, [c for c, _ in shuffled]), CTX
    )
    assert built[0].message_id == again[0].message_id

    changed = dict(zip(columns, row, strict=True)) | {"user_id": "u-2"}
    other, _ = build_rows(Kind.customers, [Row(2, changed)], plan_columns(Kind.customers, columns), CTX)
    assert other[0].message_id != built[0].message_id


prices = st.decimals(
    min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False, allow_infinity=False
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.tuples(prices, st.integers(0, 50)), min_size=1, max_size=8))
def test_order_total_is_the_exact_sum_of_its_lines(lines: list[tuple[Decimal, int]]) -> None:
    columns = ["order_id", "user_id", "date", "price", "quantity"]
    rows = [
        Row(i + 2, dict(zip(columns, ["A-1", "u-1", "2024-05-01", str(price), str(qty)], strict=True)))
        for i, (price, qty) in enumerate(lines)
    ]
    built, rejects = build_orders(rows, plan_columns(Kind.orders, columns), CTX)
    assert rejects == []
    action = ecommerce.parse("Order Completed", built[0].message["properties"], "CNY")
    assert action is not None
    assert action.amounts["total"] == sum(int(price * 100) * qty for price, qty in lines)


@settings(max_examples=80, deadline=None)
@given(minutes=st.integers(0, 200 * 365 * 24 * 60))
def test_naive_times_are_read_in_the_brand_zone(minutes: int) -> None:
    local = datetime(1950, 1, 1) + timedelta(minutes=minutes)
    zone = ZoneInfo("Asia/Shanghai")
    expected = local.replace(tzinfo=zone).astimezone(UTC)
    assert parse_when(local.strftime("%Y-%m-%d %H:%M"), zone, "t") == expected
    assert parse_when(local.strftime("%Y/%m/%d %H:%M:%S"), zone, "t") == expected
    assert parse_when(local.isoformat(), zone, "t") == expected
