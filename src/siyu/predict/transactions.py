"""Read a transaction file (CSV or Parquet) with Polars for `siyu predict fit`.

CSV cells are read as text, so customer ids keep their leading zeros; `summary.py` parses dates and amounts.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from siyu.core.errors import ValidationFailed

FORMATS = (".csv", ".parquet")


def read_transactions(path: Path) -> pl.DataFrame:
    """The whole file as a DataFrame; raises `ValidationFailed` (field "transactions") when unreadable."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValidationFailed(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use .csv or .parquet",
            field="transactions",
        )
    if not path.is_file():
        raise ValidationFailed(f"{path}: no such file", field="transactions")
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationFailed(f"{path.name}: cannot be read: {reason}", field="transactions") from exc
    if frame.columns and frame.columns[0].startswith("\ufeff"):  # a UTF-8 byte-order mark
        frame = frame.rename({frame.columns[0]: frame.columns[0].lstrip("\ufeff")})
    return frame
