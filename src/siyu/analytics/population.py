"""Metric filters as a customer population: acquisition source, segment, live code (trait `live_code`),
advisor and department. Each filter narrows the set of customer ids every metric reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from siyu.auth.tables import Source
from siyu.core.columns import Json
from siyu.core.errors import ValidationFailed
from siyu.customers.tables import Customer, Identity, Trait
from siyu.segments.tables import Segment, SegmentMember
from siyu.staff.tables import CustomerOwner, Staff

LIVE_CODE_TRAIT = "live_code"


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    segment: str | None = None
    live_code: str | None = None
    advisor: str | None = None
    department: str | None = None

    def is_empty(self) -> bool:
        return not any(asdict(self).values())

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


MAX_ID_DIGITS = 9  # a numeric filter value this short may be an id (INTEGER columns), else only a name


def clean(value: str, field: str) -> str:
    """Text that can reach the database: no NUL character (PostgreSQL refuses it)."""
    if "\x00" in value:
        raise ValidationFailed(f"{field} may not contain the NUL character", field=field)
    return value


def _as_id(value: str) -> int | None:
    return int(value) if value.isdecimal() and len(value) <= MAX_ID_DIGITS else None


def acquisition_source(customer_id: Any) -> ColumnElement[Any]:
    """The source that first saw a customer: the source of their earliest identity."""
    i = Identity.__table__.c
    first = (
        select(i.source_id)
        .where(i.customer_id == customer_id)
        .order_by(i.first_seen_at, i.id)
        .limit(1)
        .scalar_subquery()
    )
    return first


def source_id(session: Session, value: str, field: str = "source") -> int:
    """A source by name, or by numeric id."""
    query = select(Source.id).where(Source.name == clean(value, field))
    if (number := _as_id(value)) is not None:
        query = select(Source.id).where(or_(Source.name == value, Source.id == number))
    found = session.scalar(query)
    if found is None:
        raise ValidationFailed(f"no source named {value!r}", field=field)
    return int(found)


def _segment_id(session: Session, value: str) -> int:
    query = select(Segment.id).where(Segment.name == clean(value, "segment"))
    if (number := _as_id(value)) is not None:
        query = select(Segment.id).where(or_(Segment.name == value, Segment.id == number))
    found = session.scalar(query)
    if found is None:
        raise ValidationFailed(f"no segment named {value!r}", field="segment")
    return int(found)


def _staff_id(session: Session, value: str) -> int:
    query = select(Staff.id).where(Staff.userid == clean(value, "advisor"))
    if (number := _as_id(value)) is not None:
        query = select(Staff.id).where(or_(Staff.userid == value, Staff.id == number))
    found = session.scalar(query)
    if found is None:
        raise ValidationFailed(f"no advisor with userid {value!r}", field="advisor")
    return int(found)


def trait_equals(name: str, value: str) -> ColumnElement[bool]:
    """Trait `name` holds `value` (as a JSON string, or as a number when `value` is one)."""
    t = Trait.__table__.c
    options: list[Any] = [literal(value, Json)]
    if value.lstrip("-").isdecimal():
        options.append(literal(int(value), Json))
    return (t.name == name) & or_(*(t.value == option for option in options))


def live_code_customers(code: str) -> Select[tuple[int]]:
    return select(Trait.__table__.c.customer_id).where(trait_equals(LIVE_CODE_TRAIT, code))


def source_customers(source: int) -> Select[tuple[int]]:
    c = Customer.__table__.c
    return select(c.id).where(c.merged_into_id.is_(None), acquisition_source(c.id) == source)


def population(session: Session, filters: Filters) -> Select[tuple[int]] | None:
    """A SELECT of the customer ids matching every filter, or None when there is no filter."""
    if filters.is_empty():
        return None
    c = Customer.__table__.c
    query = select(c.id).where(c.merged_into_id.is_(None))
    if filters.source:
        query = query.where(acquisition_source(c.id) == source_id(session, filters.source))
    if filters.segment:
        members = select(SegmentMember.customer_id).where(
            SegmentMember.segment_id == _segment_id(session, filters.segment)
        )
        query = query.where(c.id.in_(members))
    if filters.live_code:
        query = query.where(c.id.in_(live_code_customers(clean(filters.live_code, "live_code"))))
    if filters.advisor:
        owned = select(CustomerOwner.customer_id).where(
            CustomerOwner.staff_id == _staff_id(session, filters.advisor)
        )
        query = query.where(c.id.in_(owned))
    if filters.department:
        staff = select(Staff.id).where(Staff.department == clean(filters.department, "department"))
        if session.scalar(staff.limit(1)) is None:
            raise ValidationFailed(f"no staff in department {filters.department!r}", field="department")
        query = query.where(
            c.id.in_(select(CustomerOwner.customer_id).where(CustomerOwner.staff_id.in_(staff)))
        )
    return query


def restrict(query: Any, customer_col: Any, people: Select[tuple[int]] | None) -> Any:
    """`query` limited to the population (unchanged when there is none)."""
    return query if people is None else query.where(customer_col.in_(people))
