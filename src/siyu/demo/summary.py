"""What the demo database holds after loading: customers, events, orders, GMV, merges; and the demo's
admin API token (`demo-admin-<n>`, a new one each run, since a token is shown only once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.auth.service import create_token
from siyu.auth.tables import ApiToken
from siyu.commerce.money import from_minor
from siyu.commerce.tables import Order
from siyu.core.errors import Conflict
from siyu.customers.tables import Customer, Merge
from siyu.demo.catalog import CURRENCY
from siyu.demo.messages import DemoMessage
from siyu.events.tables import Event

TOKEN_PREFIX = "demo-admin-"  # noqa: S105 (a name prefix, not a secret)


@dataclass(frozen=True)
class Summary:
    customers: int
    events: int
    orders: int
    refunded_orders: int
    gmv: Decimal  # completed orders, before refunds
    net_sales: Decimal  # after refunds
    merges: int


def summarise(session: Session) -> Summary:
    o = Order.__table__.c
    completed = o.completed_at.is_not(None) & (o.status != "cancelled")
    orders, refunded, gross, refunds = session.execute(
        select(
            func.count(),
            func.sum(case((o.refunded_minor > 0, 1), else_=0)),
            func.sum(o.total_minor),
            func.sum(o.refunded_minor),
        ).where(completed)
    ).one()
    return Summary(
        customers=session.scalar(select(func.count()).where(Customer.merged_into_id.is_(None))) or 0,
        events=session.scalar(select(func.count()).select_from(Event)) or 0,
        orders=int(orders or 0),
        refunded_orders=int(refunded or 0),
        gmv=from_minor(int(gross or 0), CURRENCY),
        net_sales=from_minor(int(gross or 0) - int(refunds or 0), CURRENCY),
        merges=session.scalar(select(func.count()).select_from(Merge).where(Merge.undone_at.is_(None))) or 0,
    )


def showcase(stream: Sequence[DemoMessage]) -> str | None:
    """The member id of a customer worth opening first: a member seen on the most channels."""
    channels: dict[int, set[str]] = defaultdict(set)
    members: dict[int, str] = {}
    for m in stream:
        channels[m.customer].add(m.channel)
        if "userId" in m.payload:
            members[m.customer] = str(m.payload["userId"])
    if not members:
        return None
    best = max(members, key=lambda n: (len(channels[n]), -n))
    return members[best]


def create_demo_token(session: Session) -> tuple[str, str]:
    """(name, token) of a new admin token `demo-admin-<n>`."""
    taken = session.scalar(select(func.count()).where(ApiToken.name.like(f"{TOKEN_PREFIX}%"))) or 0
    for n in range(taken + 1, taken + 100):
        try:
            _row, token = create_token(session, f"{TOKEN_PREFIX}{n}", "admin")  # checks before writing
            return f"{TOKEN_PREFIX}{n}", token
        except Conflict:
            continue
    raise Conflict("could not find a free demo token name", field="name")
