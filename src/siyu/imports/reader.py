"""Files → rows with their row numbers: CSV, Excel (.xlsx), JSONL/NDJSON and Parquet, through Polars.

Tabular cells are read as text (no type inference: `0139…` and 20-digit ids survive); JSONL lines are
parsed one by one so a broken line rejects only itself and numbers keep their exact digits.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from siyu.imports.records import Reject, Row, UnusableInput
from siyu.imports.values import is_empty

FORMATS = (".csv", ".xlsx", ".jsonl", ".ndjson", ".parquet")


@dataclass
class Table:
    columns: list[str]
    rows: list[Row]
    rejects: list[Reject] = field(default_factory=list)  # lines that are not a record at all


def read_table(path: Path, sheet: str | None = None) -> Table:
    """Read `path` by its extension; raises UnusableInput when the file cannot be read as a whole."""
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[Path, str | None], Table]] = {
        ".csv": _csv,
        ".xlsx": _xlsx,
        ".jsonl": _jsonl,
        ".ndjson": _jsonl,
        ".parquet": _parquet,
    }
    if suffix not in readers:
        raise UnusableInput(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(FORMATS)}", field="file"
        )
    if not path.is_file():
        raise UnusableInput(f"{path}: no such file", field="file")
    try:
        return readers[suffix](path, sheet)
    except UnusableInput:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnusableInput(f"{path.name}: cannot be read as {suffix[1:]}: {reason}", field="file") from exc


def _frame_rows(frame: pl.DataFrame, first_number: int) -> list[Row]:
    rows = []
    for offset, cells in enumerate(frame.iter_rows(named=True)):
        if all(is_empty(v) for v in cells.values()):
            continue
        rows.append(Row(first_number + offset, cells))
    return rows


def _decode(raw: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Excel on Chinese Windows saves as CSV."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnusableInput(f"{name}: text is neither UTF-8 nor GB18030", field="file")


def _csv(path: Path, _sheet: str | None) -> Table:
    data = _decode(path.read_bytes(), path.name).encode()
    if not data.strip():
        return Table([], [])
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    return Table(list(frame.columns), _frame_rows(frame, 2))


def _header_row(path: Path, sheet: str | None) -> int:
    """The sheet row of the header (Excel numbering): the first row with a value, as calamine sees it."""
    import openpyxl  # type: ignore[import-untyped]  # no stubs; only the header row is read

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if any(not is_empty(v) for v in values):
                return number
        return 1
    finally:
        book.close()


def _xlsx(path: Path, sheet: str | None) -> Table:
    import fastexcel

    book = fastexcel.read_excel(str(path))
    if sheet is not None and sheet not in book.sheet_names:
        raise UnusableInput(
            f"{path.name} has no sheet {sheet!r} (sheets: {', '.join(book.sheet_names)})", field="sheet"
        )
    try:
        frame = book.load_sheet(sheet if sheet is not None else 0, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise UnusableInput(f"{path.name}: cannot be read: {exc}", field="file") from exc
    return Table(list(frame.columns), _frame_rows(frame, _header_row(path, sheet) + 1))


def _as_text(series: pl.Series) -> pl.Series:
    """A Parquet column as text; nested columns (lists, structs) keep their Python values."""
    if isinstance(series.dtype, pl.List | pl.Array | pl.Struct):
        return series
    try:
        return series.cast(pl.String)
    except pl.exceptions.PolarsError:  # durations, binary, …: Python's own text form
        return pl.Series(series.name, [None if v is None else str(v) for v in series.to_list()], pl.String)


def _parquet(path: Path, _sheet: str | None) -> Table:
    frame = pl.read_parquet(path)
    frame = pl.DataFrame([_as_text(frame.get_column(name)) for name in frame.columns])
    return Table(list(frame.columns), _frame_rows(frame, 1))


def _jsonl(path: Path, _sheet: str | None) -> Table:
    text = _decode(path.read_bytes(), path.name)
    columns: dict[str, None] = {}
    rows: list[Row] = []
    rejects: list[Reject] = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is valid JSON
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(number, "", f"line is not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(record, dict):
            rejects.append(Reject(number, "", "line is not a JSON object"))
            continue
        columns.update(dict.fromkeys(record))
        if not all(is_empty(v) for v in record.values()):
            rows.append(Row(number, record))
    return Table(list(columns), rows, rejects)
