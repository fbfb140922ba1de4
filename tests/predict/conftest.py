"""CDNOW sample fixtures shared by the model tests (the file lives outside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from siyu.predict.cdnow import CALIBRATION_END, HOLDOUT_END, load_cdnow
from siyu.predict.summary import CustomerSummary, rfm_summary

CDNOW = Path(
    os.environ.get("SIYU_CDNOW_SAMPLE", Path(__file__).parents[3] / "shared/data/cdnow/CDNOW_sample.txt")
)


@pytest.fixture(scope="session")
def cdnow_transactions() -> pl.DataFrame:
    return load_cdnow(CDNOW)


@pytest.fixture(scope="session")
def cdnow(cdnow_transactions: pl.DataFrame) -> CustomerSummary:
    return rfm_summary(
        cdnow_transactions,
        customer="customer",
        date="date",
        amount="amount",
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
    )
