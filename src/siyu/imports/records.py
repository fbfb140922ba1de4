"""The values that flow through an import: file rows, rejected rows, and messages built from rows.

A `Built` message remembers the file rows it came from and which column fed each message field, so an
error the ingestion pipeline reports on a message can be traced back to a row number and a column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from siyu.core.errors import ValidationFailed


class Kind(StrEnum):
    customers = "customers"
    orders = "orders"
    events = "events"


class UnusableInput(ValidationFailed):
    """The file as a whole cannot be imported (unknown format, missing column, bad mapping): exit 2."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based: spreadsheet row (header = 1) or JSONL line
    cells: dict[str, Any]  # column → raw value (text for CSV, Excel and Parquet; JSON values for JSONL)


@dataclass(frozen=True)
class Reject:
    row: int
    field: str  # the file's column when known, else the message field
    reason: str


_PRODUCT_FIELD = re.compile(r"^properties\.products\[(\d+)\](?:\.(\w+))?$")


@dataclass
class Built:
    """One Segment message and where it came from."""

    message: dict[str, Any]
    rows: list[int]  # every file row behind the message, in file order
    columns: dict[str, str] = field(default_factory=dict)  # message field → source column
    line_rows: list[int] = field(default_factory=list)  # orders: file row of products[i]

    @property
    def message_id(self) -> str:
        return str(self.message["messageId"])

    def locate(self, message_field: str | None) -> tuple[int, str]:
        """(row, column-or-field) for an error on `message_field`."""
        name = message_field or ""
        line = _PRODUCT_FIELD.match(name)
        if line and int(line.group(1)) < len(self.line_rows):
            attr = line.group(2)
            column = self.columns.get(f"products.{attr}", name) if attr else name
            return self.line_rows[int(line.group(1))], column
        for candidate in (name, name.removeprefix("context.")):
            if candidate in self.columns:
                return self.rows[0], self.columns[candidate]
        return self.rows[0], name

    def rejects(self, message_field: str | None, reason: str) -> list[Reject]:
        """Every row of the message rejected: the culprit with the reason, the others pointing at it."""
        culprit, column = self.locate(message_field)
        out = [Reject(culprit, column, reason)]
        for number in self.rows:
            if number != culprit:
                out.append(Reject(number, column, f"rejected with row {culprit} of the same order: {reason}"))
        return sorted(out, key=lambda r: r.row)


def as_reject(row: int, column: str, exc: ValidationFailed) -> Reject:
    return Reject(row, column, exc.message)
