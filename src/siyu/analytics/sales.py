"""Order metrics: orders, GMV, AOV, buyers, repurchase rate, purchase frequency and realised LTV.

An order counts when it is completed and neither cancelled nor fully refunded; its spend is
total − refunded (integer minor units), on the brand-local day it was completed, in one currency.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, distinct, func, select

from siyu.analytics.definitions import Computed, Context, Definition, Series, cells, divide, register
from siyu.analytics.sqltime import date_literal
from siyu.commerce.tables import Order
from siyu.core.settings import get_settings
from siyu.customers.tables import Customer, CustomerStats

O = Order.__table__.c  # noqa: E741


def currency(ctx: Context) -> str:
    return (ctx.options.currency or get_settings().default_currency).upper()


def completed(ctx: Context) -> Any:
    """Completed, not cancelled, in the metric currency (fully refunded ones add 0 spend)."""
    return and_(O.completed_at.is_not(None), O.status != "cancelled", O.currency == currency(ctx))


def counted(ctx: Context) -> Any:
    return and_(completed(ctx), O.status != "refunded")


def spend() -> Any:
    return O.total_minor - O.refunded_minor


def _in_period(ctx: Context) -> Any:
    lo, hi = ctx.bounds
    return and_(O.completed_at >= lo, O.completed_at < hi)


def _order_series(ctx: Context, measure: Any, condition: Any) -> Series:
    b = ctx.bucket(ctx.local(O.completed_at))
    query = ctx.restrict(select(b, measure).where(_in_period(ctx), condition), O.customer_id)
    return cells(ctx.session.execute(ctx.group(query, b)))


def orders(ctx: Context) -> Computed:
    return Computed(_order_series(ctx, func.count(), counted(ctx)))


def gmv(ctx: Context) -> Computed:
    return Computed(_order_series(ctx, func.sum(spend()), completed(ctx)))


def buyers(ctx: Context) -> Computed:
    return Computed(_order_series(ctx, func.count(distinct(O.customer_id)), counted(ctx)))


def aov(ctx: Context) -> Computed:
    return Computed(divide(gmv(ctx).series, orders(ctx).series))


def purchase_frequency(ctx: Context) -> Computed:
    return Computed(divide(orders(ctx).series, buyers(ctx).series))


def repurchase_rate(ctx: Context) -> Computed:
    b = ctx.bucket(ctx.local(O.completed_at))
    per = select(b.label("b"), O.customer_id, func.count().label("n")).where(_in_period(ctx), counted(ctx))
    per = ctx.group(ctx.restrict(per, O.customer_id), b, O.customer_id).subquery("per")
    head = date_literal(ctx.kind, ctx.period.start) if ctx.granularity == "all" else per.c.b
    query = select(head, func.sum(case((per.c.n >= 2, 1), else_=0)), func.count()).select_from(per)
    if ctx.granularity != "all":
        query = query.group_by(per.c.b)
    return Computed(cells(ctx.session.execute(query), ratio=True))


def spend_of_new_customers(ctx: Context, people: Any = None) -> tuple[Series, Series]:
    """Per bucket of first-seen day: (spend to the end of the period, number of customers)."""
    s, c = CustomerStats.__table__.c, Customer.__table__.c
    lo, hi = ctx.bounds
    paid = (
        select(O.customer_id, func.sum(spend()).label("spend"))
        .where(completed(ctx), O.completed_at < hi)
        .group_by(O.customer_id)
        .subquery("paid")
    )
    b = ctx.bucket(ctx.local(s.first_seen_at))
    query = (
        select(b, func.coalesce(func.sum(paid.c.spend), 0), func.count())
        .select_from(
            CustomerStats.__table__.join(Customer.__table__, c.id == s.customer_id).outerjoin(
                paid, paid.c.customer_id == s.customer_id
            )
        )
        .where(c.merged_into_id.is_(None), s.first_seen_at >= lo, s.first_seen_at < hi)
    )
    query = ctx.restrict(query, s.customer_id)
    if people is not None:
        query = query.where(s.customer_id.in_(people))
    rows = list(ctx.session.execute(ctx.group(query, b)))
    return cells((r[0], r[1]) for r in rows), cells((r[0], r[2]) for r in rows)


def new_customer_spend(ctx: Context) -> tuple[Series, Series]:
    """`spend_of_new_customers` of the context's population, computed once per context."""
    return ctx.remember("new_customer_spend", lambda: spend_of_new_customers(ctx))  # type: ignore[no-any-return]


def realised_ltv(ctx: Context) -> Computed:
    revenue, customers = new_customer_spend(ctx)
    return Computed(divide(revenue, customers))


register(
    Definition("orders", "Orders", "订单数", "count",
               "counted orders completed in the bucket", None, orders, options=("currency",)),
    Definition("gmv", "GMV", "成交额 GMV", "minor",
               "sum of total − refunded over orders completed in the bucket (not cancelled)", None, gmv,
               options=("currency",)),
    Definition("buyers", "Buyers", "购买客户数", "count",
               "distinct customers with a counted order in the bucket", None, buyers, options=("currency",)),
    Definition("aov", "Average order value (AOV)", "客单价 AOV", "minor",
               "GMV of the bucket", "counted orders of the bucket", aov, options=("currency",)),
    Definition("purchase_frequency", "Purchase frequency", "购买频次", "per_customer",
               "counted orders of the bucket", "buyers of the bucket", purchase_frequency,
               options=("currency",)),
    Definition("repurchase_rate", "Repurchase rate", "复购率", "ratio",
               "buyers with two or more counted orders in the bucket", "buyers of the bucket",
               repurchase_rate, options=("currency",)),
    Definition("realised_ltv", "Realised LTV", "已实现客户价值 LTV", "minor",
               "spend (total − refunded) up to the end of the period of customers first seen in the bucket",
               "customers first seen in the bucket", realised_ltv, options=("currency",)),
)  # fmt: skip
