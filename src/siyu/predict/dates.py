"""Purchase dates in whatever shape a file holds them → calendar days (polars Date).

Accepts Date, Datetime (its own calendar day), YYYYMMDD integers and ISO-like text; names a bad cell.
"""

from __future__ import annotations

import polars as pl

from siyu.core.errors import ValidationFailed

TEXT_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M")


def as_days(values: pl.Series, column: str) -> pl.Series:
    """The calendar day of each value; raises `ValidationFailed` naming the first unreadable cell."""
    dtype = values.dtype
    if dtype == pl.Date:
        days = values
    elif isinstance(dtype, pl.Datetime):
        days = values.dt.date()
    elif dtype.is_integer():
        days = values.cast(pl.String).str.strptime(pl.Date, "%Y%m%d", strict=False)
    elif dtype == pl.String:
        days = _text_days(values)
    else:
        raise ValidationFailed(f"column {column!r} holds {dtype}, not dates", field=column)
    bad = days.is_null()
    if bad.any():
        row = int(bad.arg_max() or 0)
        raise ValidationFailed(
            f"column {column!r} row {row + 1}: {values[row]!r} is not a date (use YYYY-MM-DD)", field=column
        )
    return days.alias("day")


def _text_days(values: pl.Series) -> pl.Series:
    text = values.str.strip_chars()
    best = pl.repeat(None, values.len(), dtype=pl.Date, eager=True)
    for fmt in TEXT_FORMATS:
        parsed = text.str.strptime(pl.Datetime, fmt, strict=False).dt.date()
        best = best.fill_null(parsed)
        if best.null_count() == 0:
            break
    return best
