"""Which file column feeds which field: default column names per import kind, `--map` and `--skip`.

Column names match case-insensitively, ignoring `_`, `-`, `.` and spaces (`User ID` = `userId` =
`user_id`). Columns that feed no field become traits (customers) or properties (orders, events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from siyu.imports.records import Kind, UnusableInput

IDENTITY_ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": ("user_id", "uid", "用户id"),
    "anonymous_id": ("anonymous_id", "anon_id", "匿名id"),
    "phone": (
        "phone",
        "mobile",
        "phone_number",
        "mobile_phone",
        "手机号",
        "手机",
        "手机号码",
        "电话",
        "联系电话",
    ),
    "email": ("email", "e_mail", "email_address", "邮箱", "电子邮箱", "邮件"),
    "member_id": ("member_id", "member_no", "会员号", "会员id", "会员编号", "会员卡号"),
    "unionid": ("unionid", "union_id"),
    "openid": ("openid", "open_id"),
    "wecom_external_userid": ("wecom_external_userid", "external_userid", "external_user_id"),
}
IDENTITY_TARGETS = tuple(IDENTITY_ALIASES)

# Personal columns besides identities: traits of a customer; encrypted context of an order.
# (A bare `name` column of an order file is more likely a product than a person, so only customers
# read it as the customer's name.)
PERSONAL_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("full_name", "姓名", "名字", "客户姓名", "收货人", "收件人", "receiver_name"),
    "address": ("address", "地址", "收货地址", "收件地址", "联系地址", "shipping_address"),
}
_CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", *PERSONAL_ALIASES["name"]),
    "timestamp": ("timestamp", "updated_at", "更新时间"),
    "traits": ("traits",),
}
_ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order_no", "order_number", "订单号", "订单编号", "订单id"),
    "completed_at": (
        "completed_at", "date", "order_date", "order_time", "paid_at", "timestamp",
        "下单时间", "订单时间", "付款时间", "支付时间", "日期",
    ),
    "total": ("total", "order_total", "revenue", "订单金额", "实付金额", "实付款", "总金额"),
    "currency": ("currency", "币种"),
    "subtotal": ("subtotal", "小计"),
    "discount": ("discount", "优惠", "优惠金额"),
    "shipping": ("shipping", "运费"),
    "tax": ("tax", "税费"),
    "coupon": ("coupon", "优惠券"),
    "product_id": ("product_id", "商品id", "商品编号"),
    "sku": ("sku", "sku_id", "规格编码"),
    "product_name": ("product_name", "商品名称", "商品"),
    "category": ("category", "类目", "品类"),
    "brand": ("brand", "品牌"),
    "price": ("price", "unit_price", "单价"),
    "quantity": ("quantity", "qty", "数量"),
    "properties": ("properties",),
}  # fmt: skip
_EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "event": ("event", "event_name", "事件", "事件名"),
    "timestamp": ("timestamp", "time", "event_time", "occurred_at", "时间", "发生时间"),
    "properties": ("properties", "props"),
}

ALIASES: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.customers: {**IDENTITY_ALIASES, **PERSONAL_ALIASES, **_CUSTOMER_ALIASES},
    Kind.orders: {**IDENTITY_ALIASES, **PERSONAL_ALIASES, **_ORDER_ALIASES},
    Kind.events: {**IDENTITY_ALIASES, **_EVENT_ALIASES},
}
# The prefix of a free-form target: `--map traits.level=会员等级`, `--map properties.store=门店`.
FREE_PREFIX = {Kind.customers: "traits.", Kind.orders: "properties.", Kind.events: "properties."}
REQUIRED = {Kind.customers: (), Kind.orders: ("order_id", "completed_at"), Kind.events: ("event",)}


def canonical(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "_-. ")


@dataclass(frozen=True)
class ColumnPlan:
    kind: Kind
    targets: dict[str, str]  # field → column
    extras: dict[str, str] = field(default_factory=dict)  # trait/property name → column
    skipped: tuple[str, ...] = ()  # --skip, and columns without a header

    def column(self, target: str) -> str | None:
        return self.targets.get(target)

    def describe(self) -> list[str]:
        lines = [f"{target} ← {column}" for target, column in self.targets.items()]
        lines += [f"{FREE_PREFIX[self.kind]}{name} ← {column}" for name, column in self.extras.items()]
        if self.skipped:
            names = (c if c.strip() else "(column without a name)" for c in self.skipped)
            lines.append("ignored: " + ", ".join(names))
        return lines


def parse_maps(options: Iterable[str]) -> list[tuple[str, str]]:
    """`target=column` options as pairs; raises UnusableInput for malformed ones."""
    pairs = []
    for option in options:
        target, sep, column = option.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise UnusableInput(f"--map {option!r} must look like target=column", field="--map")
        pairs.append((target.strip(), column.strip()))
    return pairs


def _check_target(kind: Kind, target: str) -> None:
    prefix = FREE_PREFIX[kind]
    if target in ALIASES[kind] or (target.startswith(prefix) and len(target) > len(prefix)):
        return
    known = ", ".join(ALIASES[kind])
    raise UnusableInput(
        f"unknown mapping target {target!r} for {kind.value}; known targets: {known}, or {prefix}NAME",
        field="--map",
    )


def plan_columns(
    kind: Kind, columns: Sequence[str], maps: Sequence[tuple[str, str]] = (), skip: Sequence[str] = ()
) -> ColumnPlan:
    """Resolve fields to columns; raises UnusableInput naming a missing column or field."""
    present = list(columns)
    for name in skip:
        if name not in present:
            raise UnusableInput(f"--skip names column {name!r}, which the file does not have", field=name)
    targets: dict[str, str] = {}
    extras: dict[str, str] = {}
    for target, column in maps:
        _check_target(kind, target)
        if column not in present:
            raise UnusableInput(
                f"--map {target}={column}: the file has no column {column!r} (columns: {', '.join(present)})",
                field=column,
            )
        if target.startswith(FREE_PREFIX[kind]):
            extras[target.removeprefix(FREE_PREFIX[kind])] = column
        else:
            targets[target] = column
    used = set(targets.values()) | set(extras.values()) | set(skip)
    by_canonical: dict[str, str] = {}
    for column in present:
        by_canonical.setdefault(canonical(column), column)
    for target, aliases in ALIASES[kind].items():
        if target in targets:
            continue
        for alias in aliases:
            found = by_canonical.get(canonical(alias))
            if found is not None and found not in used:
                targets[target] = found
                used.add(found)
                break
    unnamed = [c for c in present if not c.strip()]
    for column in present:
        if column not in used and column.strip():
            _check_not_personal(kind, column, targets)
            extras.setdefault(column.strip(), column)
    plan = ColumnPlan(kind, targets, extras, (*skip, *unnamed))
    _check_required(plan, present)
    return plan


def _check_not_personal(kind: Kind, column: str, targets: dict[str, str]) -> None:
    """A second phone/email/name/… column would become a plain trait or property: make the operator choose."""
    for target in (*IDENTITY_TARGETS, *PERSONAL_ALIASES):
        aliases = ALIASES[kind].get(target, ())
        if canonical(column) in {canonical(a) for a in aliases}:
            prefix = FREE_PREFIX[kind]
            raise UnusableInput(
                f"column {column!r} also looks like {target}, which is read from {targets.get(target)!r}: "
                f"--skip {column}, --map {target}={column} to read it instead, "
                f"or --map {prefix}NAME={column} to keep it",
                field=column,
            )


def _check_required(plan: ColumnPlan, present: Sequence[str]) -> None:
    have = ", ".join(present) or "no columns"
    for target in REQUIRED[plan.kind]:
        if target not in plan.targets:
            names = " / ".join(ALIASES[plan.kind][target][:4])
            raise UnusableInput(
                f"{plan.kind.value} need a {target} column ({names}, or --map {target}=COLUMN); "
                f"the file has: {have}",
                field=target,
            )
    if not any(t in plan.targets for t in IDENTITY_TARGETS):
        raise UnusableInput(
            f"{plan.kind.value} need a column that identifies the customer ({', '.join(IDENTITY_TARGETS)}); "
            f"the file has: {have}",
            field="user_id",
        )
