"""SQL that differs between SQLite and PostgreSQL, for the compiler: reading JSON values (traits are JSON,
JSONB on PostgreSQL; event properties too), comparing them by type, and brand-local days of timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from siyu.core.database import UTCDateTime
from siyu.segments import windows

DATE_GLOB = "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]*"
DATE_REGEX = "^[0-9]{4}-[01][0-9]-[0-3][0-9]"


@dataclass(frozen=True)
class JsonRef:
    """A JSON value: the column itself (`path` empty) or a member of it, e.g. properties.category."""

    column: Any
    path: tuple[str, ...] = ()


def _sqlite_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{p}"' for p in path)  # names never hold '"' or '\\' (validated)


class Sql:
    """JSON and time helpers for one dialect (`sqlite` or `postgresql`)."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    # --- JSON --------------------------------------------------------------------------------------
    def _jsonb(self, ref: JsonRef) -> Any:
        return func.jsonb_extract_path(ref.column, *ref.path) if ref.path else ref.column

    def kind(self, ref: JsonRef) -> ColumnElement[str]:
        """SQLite: null true false integer real text array object; PostgreSQL: jsonb_typeof names."""
        if self.pg:
            return func.jsonb_typeof(self._jsonb(ref))
        return func.json_type(ref.column, _sqlite_path(ref.path))

    def text(self, ref: JsonRef) -> ColumnElement[str]:
        """The value as text (meaningful for strings)."""
        if self.pg:
            value = self._jsonb(ref).op("#>>")(literal_column("'{}'"))
            return type_coerce(value, String).collate("C")
        return type_coerce(func.json_extract(ref.column, _sqlite_path(ref.path)), String)

    def number(self, ref: JsonRef) -> ColumnElement[Decimal]:
        """The value as a number, NULL unless it is a JSON number."""
        if self.pg:
            raw = self._jsonb(ref).op("#>>")(literal_column("'{}'"))
            return case((self.is_number(ref), cast(raw, Numeric)), else_=None)
        return type_coerce(func.json_extract(ref.column, _sqlite_path(ref.path)), Numeric)

    def is_text(self, ref: JsonRef) -> ColumnElement[bool]:
        return self.kind(ref) == ("string" if self.pg else "text")

    def is_number(self, ref: JsonRef) -> ColumnElement[bool]:
        return self.kind(ref) == "number" if self.pg else self.kind(ref).in_(("integer", "real"))

    def present(self, ref: JsonRef) -> ColumnElement[bool]:
        """Present and not JSON null."""
        k = self.kind(ref)
        return and_(k.is_not(None), k != "null")

    def _is_bool(self, ref: JsonRef, value: bool) -> ColumnElement[bool]:
        if self.pg:
            raw = self._jsonb(ref).op("#>>")(literal_column("'{}'"))
            return and_(self.kind(ref) == "boolean", raw == ("true" if value else "false"))
        return self.kind(ref) == ("true" if value else "false")

    def equals(self, ref: JsonRef, value: Any) -> ColumnElement[bool]:
        if isinstance(value, str) and not ref.path:
            # a whole JSON column holding a string: compare the stored JSON itself (no parsing per row).
            # siyu writes JSON with orjson only, so a string's stored text is exactly this encoding.
            encoded = orjson.dumps(value).decode()
            stored: ColumnElement[bool] = (
                ref.column == cast(literal(encoded), JSONB)
                if self.pg
                else type_coerce(ref.column, String) == literal(encoded, String)
            )
            return stored
        if isinstance(value, bool):
            return self._is_bool(ref, value)
        if isinstance(value, int | float):
            return and_(self.is_number(ref), self.number(ref) == literal(Decimal(str(value)), Numeric))
        return and_(self.is_text(ref), self.text(ref) == literal(str(value), String))

    def ordered(self, ref: JsonRef, op: str, value: Any) -> ColumnElement[bool]:
        if isinstance(value, int | float):
            return and_(self.is_number(ref), compare(self.number(ref), op, literal(Decimal(str(value)))))
        return and_(self.is_text(ref), compare(self.text(ref), op, literal(str(value), String)))

    def contains(self, ref: JsonRef, value: str) -> ColumnElement[bool]:
        """Text containing `value`, or an array holding the string `value`."""
        if self.pg:
            in_text = func.strpos(self.text(ref), value) > 0
            in_array = self._jsonb(ref).op("@>")(cast(literal(orjson.dumps([value]).decode()), JSONB))
            return or_(and_(self.is_text(ref), in_text), and_(self.kind(ref) == "array", in_array))
        items = func.json_each(ref.column, _sqlite_path(ref.path)).table_valued("value", "type")
        in_array = exists(
            select(literal(1)).select_from(items).where(items.c.type == "text", items.c.value == value)
        )
        in_text = func.instr(self.text(ref), value) > 0
        return or_(and_(self.is_text(ref), in_text), and_(self.kind(ref) == "array", in_array))

    def test(self, ref: JsonRef, op: str, value: Any) -> ColumnElement[bool]:
        """A value operator as a condition that is never NULL ("ne" and "not_in" hold for missing values)."""
        if op in ("ne", "not_in", "not_exists"):
            positive = {"ne": "eq", "not_in": "in", "not_exists": "exists"}[op]
            return not_(self.test(ref, positive, value))
        if op == "exists":
            expr = self.present(ref)
        elif op == "eq":
            expr = self.equals(ref, value)
        elif op == "in":
            expr = or_(*(self.equals(ref, v) for v in value))
        elif op == "contains":
            expr = self.contains(ref, str(value))
        else:
            expr = self.ordered(ref, op, value)
        return func.coalesce(expr, false(), type_=Boolean)

    def date_text(self, ref: JsonRef) -> ColumnElement[str]:
        """First 10 characters of a text value that starts like an ISO date, else NULL."""
        if not self.pg and not ref.path:  # SQLite keeps the JSON text: '"1990-11-05"', no parsing needed
            raw = type_coerce(ref.column, String)
            return case((raw.op("GLOB")('"' + DATE_GLOB), func.substr(raw, 2, 10)), else_=None)
        text = self.text(ref)
        looks = text.op("~")(DATE_REGEX) if self.pg else text.op("GLOB")(DATE_GLOB)
        return case((and_(self.is_text(ref), looks), func.substr(text, 1, 10)), else_=None)

    # --- time --------------------------------------------------------------------------------------
    def local_day(self, column: Any, around: datetime) -> ColumnElement[str]:
        """'YYYY-MM-DD' of a UTC timestamp column in the brand zone."""
        tz = windows.zone()
        if self.pg:
            return func.to_char(func.timezone(str(tz.key), column), "YYYY-MM-DD")
        pieces = offsets(str(tz.key), around.date())
        whens = [
            (column < literal(until, UTCDateTime), _shifted(column, minutes))
            for until, minutes in pieces[:-1]
        ]
        last = _shifted(column, pieces[-1][1])
        return case(*whens, else_=last) if whens else last

    def day_text(self, column: Any) -> ColumnElement[str]:
        """A DATE column as 'YYYY-MM-DD' (SQLite stores dates as that text already)."""
        return func.to_char(column, "YYYY-MM-DD") if self.pg else type_coerce(column, String)


class CreateTempAs(Executable, ClauseElement):
    """`CREATE TEMP TABLE name ON COMMIT DROP AS <select>` (PostgreSQL), parameters bound as usual."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name, self.query = name, query


@compiles(CreateTempAs, "postgresql")
def _create_temp_as(element: CreateTempAs, compiler: Any, **kw: Any) -> str:
    return f"CREATE TEMP TABLE {element.name} ON COMMIT DROP AS {compiler.process(element.query, **kw)}"


SET_WORK_MEM = "128MB"


def for_big_sets(session: Any) -> None:
    """PostgreSQL: let this transaction hash a million ids in memory (set operations, anti-joins) rather
    than sort them on disk; the default 4 MB holds about 100k."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{SET_WORK_MEM}'"))


def compare(left: Any, op: str, right: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = {
        "eq": lambda: left == right,
        "ne": lambda: left != right,
        "lt": lambda: left < right,
        "lte": lambda: left <= right,
        "gt": lambda: left > right,
        "gte": lambda: left >= right,
    }[op]()
    return result


def holds(op: str, left: float, right: float) -> bool:
    """The same comparison in Python (does 0 satisfy `count op value`?)."""
    return {
        "eq": left == right,
        "ne": left != right,
        "lt": left < right,
        "lte": left <= right,
        "gt": left > right,
        "gte": left >= right,
    }[op]


def _shifted(column: Any, minutes: int) -> ColumnElement[str]:
    return type_coerce(func.date(column, f"{minutes:+d} minutes"), String)


@lru_cache(maxsize=32)
def offsets(zone_name: str, around: Any) -> list[tuple[datetime, int]]:
    """Piecewise-constant UTC offsets of a zone from ~11 years before to ~1 year after `around`:
    [(until, minutes)], the last piece open-ended (SQLite has no time zones)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone_name)
    start = datetime(around.year, around.month, around.day, tzinfo=UTC) - timedelta(days=4020)
    end = start + timedelta(days=4020 + 400)

    def minutes(at: datetime) -> int:
        offset = at.astimezone(tz).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    pieces: list[tuple[datetime, int]] = []
    current, at = minutes(start), start
    while at < end:
        step = at + timedelta(hours=6)
        if minutes(step) != current:
            low, high = at, step
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if minutes(mid) == current else (low, mid)
            pieces.append((high.replace(microsecond=0), current))
            current = minutes(high)
        at = step
    pieces.append((end, current))
    return pieces
