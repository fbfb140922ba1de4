"""Order rows → one `Order Completed` track per order id (pure); rows sharing an order id are its lines.

Order-level cells (buyer, date, total, currency, …) must agree across an order's rows; a row that fails
a check rejects its whole order, since importing part of an order would get its total wrong. Extra
columns become order properties when every row agrees, else properties of each product line. Amounts
stay exact decimal strings; the e-commerce parser turns them into minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from siyu.core.errors import ValidationFailed
from siyu.imports.columns import ColumnPlan
from siyu.imports.messages import (
    TRAIT_TARGETS,
    Context,
    Identity,
    finish,
    identity_from,
    identity_values,
    pseudonym,
)
from siyu.imports.records import Built, Kind, Reject, Row
from siyu.imports.values import is_empty, iso, json_object, money, parse_when, plain, quantity, text

EVENT = "Order Completed"
AMOUNTS = ("total", "subtotal", "discount", "shipping", "tax")
ORDER_TEXT = ("currency", "coupon")
PERSONAL = ("name", "address")
MAX_ORDER_ID = 128  # orders.external_id
# Product-line field → column target; the e-commerce parser reads these names.
LINE_FIELDS = {
    "product_id": "product_id",
    "sku": "sku",
    "name": "product_name",
    "category": "category",
    "brand": "brand",
    "price": "price",
    "quantity": "quantity",
}


class OrderRejected(Exception):
    def __init__(self, rejects: list[Reject]) -> None:
        super().__init__(rejects[0].reason if rejects else "order rejected")
        self.rejects = rejects


def _cell(row: Row, plan: ColumnPlan, target: str) -> str | None:
    column = plan.column(target)
    return None if column is None else text(row.cells.get(column), column)


def _row_values(row: Row, plan: ColumnPlan, ctx: Context) -> tuple[dict[str, Any], dict[str, str]]:
    """(order-level values, product line) of one row; raises ValidationFailed naming the column.

    Order-level cells may be blank on all but one row of an order, as many shop exports leave them.
    """
    order: dict[str, Any] = {f"id.{t}": v for t, v in identity_values(row, plan).items()}
    when = str(plan.column("completed_at"))
    if not is_empty(row.cells.get(when)):
        order["completed_at"] = iso(parse_when(row.cells.get(when), ctx.zone, when))
    for target in AMOUNTS:
        column = plan.column(target)
        if column is not None and not is_empty(row.cells.get(column)):
            order[target] = money(row.cells[column], column)
    for target in (*ORDER_TEXT, *PERSONAL):
        if (value := _cell(row, plan, target)) is not None:
            order[target] = value
    column = plan.column("properties")
    if column is not None and not is_empty(row.cells.get(column)):
        order["properties"] = json_object(row.cells.get(column), column)
    line: dict[str, str] = {}
    for key, target in LINE_FIELDS.items():
        column = plan.column(target)
        if column is None or is_empty(row.cells.get(column)):
            continue
        if key == "price":
            line[key] = money(row.cells[column], column)
        elif key == "quantity":
            line[key] = quantity(row.cells[column], column)
        else:
            line[key] = str(text(row.cells[column], column))
    return order, line


def _column_of(plan: ColumnPlan, key: str) -> str:
    target = key.removeprefix("id.")
    return plan.column(target) or target


def _agree(order_id: str, rows: list[Row], values: list[dict[str, Any]], plan: ColumnPlan) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    first_row: dict[str, int] = {}
    for row, vals in zip(rows, values, strict=True):
        for key, value in vals.items():
            if key not in merged:
                merged[key], first_row[key] = value, row.number
            elif merged[key] != value:
                column = _column_of(plan, key)
                reason = (
                    f"rows of order {order_id!r} disagree on {column}: {merged[key]!r} "
                    f"(row {first_row[key]}) vs {value!r}"
                )
                raise OrderRejected(
                    [
                        Reject(
                            r.number, column, reason if r is row else f"order {order_id!r} rejected: {reason}"
                        )
                        for r in rows
                    ]
                )
    return merged


def _buyer(order_id: str, rows: list[Row], merged: dict[str, Any], plan: ColumnPlan) -> Identity:
    """The order's buyer; an order with no identity or no date on any of its rows is rejected."""
    when = str(plan.column("completed_at"))
    try:
        if "completed_at" not in merged:
            raise ValidationFailed(f"{when} is empty", field=when)
        return identity_from({k[3:]: v for k, v in merged.items() if k.startswith("id.")}, plan)
    except ValidationFailed as exc:
        reason = exc.message if len(rows) == 1 else f"{exc.message} on every row of order {order_id!r}"
        raise OrderRejected([Reject(r.number, exc.field or "", reason) for r in rows]) from exc


def _extras(
    rows: list[Row], extras: dict[str, str], lines: list[dict[str, Any]], has_line: list[bool]
) -> dict[str, Any]:
    """Order-level extras (the same on every row, or only on the first); the others go on the lines."""
    order: dict[str, Any] = {}
    for key, column in extras.items():
        cells = [plain(r.cells.get(column), key) if not is_empty(r.cells.get(column)) else None for r in rows]
        filled = [c for c in cells if c is not None]
        first_only = cells[0] is not None and len(filled) == 1
        if all(c == cells[0] for c in cells) or first_only or not any(has_line):
            if filled:
                order[key] = filled[0]
            continue
        for cell, line, present in zip(cells, lines, has_line, strict=True):
            if present and cell is not None:
                line[key] = cell
    return order


def order(order_id: str, rows: list[Row], plan: ColumnPlan, ctx: Context) -> Built:
    values: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    bad: list[Reject] = []
    for row in rows:
        try:
            vals, line = _row_values(row, plan, ctx)
        except ValidationFailed as exc:
            bad.append(Reject(row.number, exc.field or "", exc.message))
            continue
        values.append(vals)
        lines.append(line)
    if bad:
        culprits = {r.row for r in bad}
        first = min(culprits)
        bad += [
            Reject(r.number, bad[0].field, f"order {order_id!r} rejected with row {first}: {bad[0].reason}")
            for r in rows
            if r.number not in culprits
        ]
        raise OrderRejected(sorted(bad, key=lambda r: r.row))
    merged = _agree(order_id, rows, values, plan)
    ident = _buyer(order_id, rows, merged, plan)
    has_line = [bool(line) for line in lines]
    # Orders keep their properties in plain text, so personal extras travel as (encrypted) context.
    personal_columns = {k: c for k, c in plan.extras.items() if ctx.vault.is_pii_name(k)}
    public_columns = {k: c for k, c in plan.extras.items() if k not in personal_columns}
    extra = _extras(rows, public_columns, lines, has_line)
    personal = _extras(rows, personal_columns, [{} for _ in rows], [False for _ in rows])
    properties: dict[str, Any] = {**merged.get("properties", {}), **extra, "order_id": order_id}
    for key in (*AMOUNTS, *ORDER_TEXT):
        if key in merged:
            properties[key] = merged[key]
    products = [line for line in lines if line]
    if products:
        properties["products"] = products
    context_traits = {**ident.traits, **{k: merged[k] for k in PERSONAL if k in merged}}
    body: dict[str, Any] = {
        "type": "track",
        "event": EVENT,
        "properties": properties,
        "timestamp": merged["completed_at"],
    }
    ident.fill(body)
    if context_traits or personal:
        body["context"] = {"traits": {**personal, **context_traits}}
    try:
        anonymous = pseudonym(ctx, plan, ident)
    except ValidationFailed as exc:
        raise OrderRejected([Reject(r.number, exc.field or "", exc.message) for r in rows]) from exc
    line_rows = [r.number for r, present in zip(rows, has_line, strict=True) if present]
    built = Built({}, [r.number for r in rows], _columns(plan), line_rows)
    return finish(ctx, Kind.orders, body, anonymous, built)


def _columns(plan: ColumnPlan) -> dict[str, str]:
    out = {f"products.{key}": c for key, target in LINE_FIELDS.items() if (c := plan.column(target))}
    out |= {f"properties.{t}": c for t in (*AMOUNTS, *ORDER_TEXT, "order_id") if (c := plan.column(t))}
    out |= {f"properties.{key}": column for key, column in plan.extras.items()}
    out |= {f"context.traits.{t}": c for t in (*TRAIT_TARGETS, *PERSONAL) if (c := plan.column(t))}
    if (c := plan.column("completed_at")) is not None:
        out["timestamp"] = c
    out["userId"] = plan.column("user_id") or "userId"
    out["anonymousId"] = plan.column("anonymous_id") or "anonymousId"
    return out


def build_orders(rows: Iterable[Row], plan: ColumnPlan, ctx: Context) -> tuple[list[Built], list[Reject]]:
    """Group rows by order id (first appearance order) and build one message per order."""
    groups: dict[str, list[Row]] = {}
    rejects: list[Reject] = []
    column = str(plan.column("order_id"))
    for row in rows:
        try:
            order_id = text(row.cells.get(column), column)
        except ValidationFailed as exc:
            rejects.append(Reject(row.number, column, exc.message))
            continue
        if order_id is None or len(order_id) > MAX_ORDER_ID:
            reason = f"{column} is empty" if order_id is None else f"{column} is longer than {MAX_ORDER_ID}"
            rejects.append(Reject(row.number, column, reason))
            continue
        groups.setdefault(order_id, []).append(row)
    built: list[Built] = []
    for order_id, group in groups.items():
        try:
            built.append(order(order_id, group, plan, ctx))
        except OrderRejected as exc:
            rejects.extend(exc.rejects)
    return built, sorted(rejects, key=lambda r: r.row)
