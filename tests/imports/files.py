"""Real import files for the tests: one table written as CSV, Excel, JSONL or Parquet, and row numbers."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl

FORMATS = ("csv", "xlsx", "jsonl", "parquet")
Cell = Any


def write_table(
    path: Path, columns: Sequence[str], rows: Sequence[Sequence[Cell]], *, excel_first_row: int = 1
) -> Path:
    """Write `rows` under `columns` in the format named by `path`'s extension; None is an empty cell.

    Cells are written as text (Excel text cells, Parquet strings) unless they are numbers in Python, so
    a test can choose between `"013…"` (text) and `13912345678` (an Excel number).
    """
    suffix = path.suffix
    if suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            writer.writerows(["" if c is None else c for c in row] for row in rows)
    elif suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        for offset, values in enumerate([list(columns), *[list(r) for r in rows]]):
            for col, value in enumerate(values, start=1):
                if value is not None:
                    sheet.cell(row=excel_first_row + offset, column=col, value=value)
        book.save(path)
    elif suffix in (".jsonl", ".ndjson"):
        lines = [
            json.dumps({k: v for k, v in zip(columns, row, strict=True) if v is not None}, ensure_ascii=False)
            for row in rows
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif suffix == ".parquet":
        data = {c: [None if r[i] is None else str(r[i]) for r in rows] for i, c in enumerate(columns)}
        pl.DataFrame(data, schema={c: pl.String for c in columns}).write_parquet(path)
    else:
        raise ValueError(suffix)
    return path


def row_number(fmt: str, index: int, *, excel_first_row: int = 1) -> int:
    """The row number the importer reports for the `index`-th data row (0-based) of a written file."""
    if fmt == "csv":
        return index + 2
    if fmt == "xlsx":
        return excel_first_row + 1 + index
    return index + 1  # JSONL line, Parquet record
