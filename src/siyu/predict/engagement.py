"""What the send-hour model reads: opens, clicks and replies per customer and local hour of day, each
customer's zone (trait `timezone`, else the brand's) and lifecycle stage (the prior's group).

Events are grouped by UTC hour in SQL (one grouped query over the `(name, timestamp)` index) and moved
to the customer's local hour with the zone's UTC offset at `as_of` (rounded to the hour); a customer
whose zone changes offset during the year is off by an hour for the other half of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import Integer, cast, extract, func, literal_column, select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.settings import get_settings
from siyu.customers.tables import Trait
from siyu.events.tables import Event
from siyu.lifecycle.tables import STAGES, LifecycleState
from siyu.predict.features import ENGAGED, IntArray, int_table
from siyu.predict.send_hour import HOURS


@dataclass(frozen=True)
class HourCounts:
    """Sparse local-hour counts: customer `customer_id[i]` engaged `count[i]` times at `hour[i]`."""

    customer_id: IntArray
    hour: IntArray
    count: IntArray


def utc_hours(session: Session, since: datetime, until: datetime) -> HourCounts:
    """Opens, clicks and replies in (since, until] by customer and UTC hour."""
    e = Event.__table__.c
    if fastsql.dialect(session) == "postgresql":
        hour = cast(extract("hour", func.timezone(literal_column("'UTC'"), e.timestamp)), Integer)
    else:
        hour = cast(func.strftime(literal_column("'%H'"), e.timestamp), Integer)
    query = (
        select(e.customer_id, hour, func.count())
        .where(e.name.in_(ENGAGED), e.timestamp > since, e.timestamp <= until)
        .group_by(e.customer_id, hour)
    )
    table = int_table(session.execute(query).all(), 3)
    return HourCounts(table[:, 0], table[:, 1], table[:, 2])


def _offset_hours(name: str, at: datetime) -> int | None:
    try:
        offset = at.astimezone(ZoneInfo(name)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return round(offset.total_seconds() / 3600) if offset is not None else 0


def zone_offsets(session: Session, customer_ids: IntArray, at: datetime) -> IntArray:
    """Each customer's UTC offset in whole hours at `at`: the `timezone` trait if it names a known zone,
    else the brand zone."""
    default = _offset_hours(get_settings().timezone, at) or 0
    out = np.full(customer_ids.shape[0], default, dtype=np.int64)
    rows = session.execute(select(Trait.customer_id, Trait.value).where(Trait.name == "timezone")).all()
    offsets: dict[str, int | None] = {}
    for cid, value in rows:
        if not isinstance(value, str):
            continue
        if value not in offsets:
            offsets[value] = _offset_hours(value, at)
        hours = offsets[value]
        at_row = int(np.searchsorted(customer_ids, cid))
        if hours is not None and at_row < customer_ids.shape[0] and customer_ids[at_row] == cid:
            out[at_row] = hours
    return out


def local_hours(session: Session, customer_ids: IntArray, as_of: datetime, lookback_days: int) -> HourCounts:
    """Engagement of these (sorted) customers in the last `lookback_days`, by local hour; `customer_id`
    holds row numbers into `customer_ids`. Customers outside the list are dropped."""
    found = utc_hours(session, as_of - timedelta(days=lookback_days), as_of)
    rows = np.searchsorted(customer_ids, found.customer_id)
    rows = np.clip(rows, 0, max(customer_ids.shape[0] - 1, 0))
    known = (customer_ids[rows] == found.customer_id) if customer_ids.shape[0] else rows < 0
    rows = rows[known]
    offsets = zone_offsets(session, customer_ids, as_of)
    hours = (found.hour[known] + offsets[rows]) % HOURS
    return HourCounts(rows.astype(np.int64), hours.astype(np.int64), found.count[known])


def stage_groups(session: Session, customer_ids: IntArray) -> tuple[IntArray, list[str]]:
    """Group code per customer for the send-hour prior: their lifecycle stage, or `all` without one."""
    names = [*STAGES, "all"]
    code = {stage: i for i, stage in enumerate(names)}
    out = np.full(customer_ids.shape[0], code["all"], dtype=np.int64)
    rows = session.execute(select(LifecycleState.customer_id, LifecycleState.stage)).all()
    if rows and customer_ids.shape[0]:
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        stages = np.array([code.get(r[1], code["all"]) for r in rows], dtype=np.int64)
        at = np.clip(np.searchsorted(customer_ids, ids), 0, customer_ids.shape[0] - 1)
        hit = customer_ids[at] == ids
        out[at[hit]] = stages[hit]
    return out, names
