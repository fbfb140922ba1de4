"""The public CDNOW sample (Fader, Hardie & Lee) that validates the models, and its published fits.

The file is whitespace-separated without a header: customer_id, sample_id, YYYYMMDD, CDs, dollar value.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl

CALIBRATION_END = date(1997, 9, 30)  # end of week 39
HOLDOUT_END = date(1998, 6, 30)  # end of week 78

# Maximum-likelihood estimates on the 2,357-customer sample, weeks 1-39, time in weeks.
PUBLISHED: dict[str, dict[str, float]] = {
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), section 4.
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
    # Same paper, the Pareto/NBD fit it compares against.
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669, "log_likelihood": -9595.0},
    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": 946 repeat customers.
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}


def load_cdnow(path: Path) -> pl.DataFrame:
    """Columns customer (text), date (Date), amount (dollars), one row per transaction line."""
    lines = [re.split(r"\s+", line.strip()) for line in path.read_text().splitlines() if line.strip()]
    if lines and len(lines[0]) == 5:  # the sample file has an extra sample_id column
        lines = [[c, d, a] for c, _sample, d, _cds, a in lines]
    else:
        lines = [[c, d, a] for c, d, _cds, a in lines]
    frame = pl.DataFrame(lines, schema=["customer", "date", "amount"], orient="row")
    return frame.with_columns(
        pl.col("date").str.strptime(pl.Date, "%Y%m%d"), pl.col("amount").cast(pl.Float64)
    )
