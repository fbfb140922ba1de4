"""Holdout comparison by calibration frequency class, and the report on CDNOW."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from siyu.predict.holdout import compare
from siyu.predict.report import as_dict, fit_all
from siyu.predict.summary import CustomerSummary, rfm_summary


def test_classes_and_totals() -> None:
    x = np.array([0, 0, 1, 7, 9, 3])
    actual = np.array([0, 2, 1, 5, 7, 2])
    model = np.array([0.5, 0.5, 1.0, 4.0, 6.0, 2.5])
    result = compare(x, actual, {"m": model})
    assert result.actual == 17 and result.predicted == {"m": 14.5}
    assert [(c.label, c.customers, c.actual, c.predicted["m"]) for c in result.classes] == [
        ("0", 2, 1.0, 0.5),
        ("1", 1, 1.0, 1.0),
        ("3", 1, 2.0, 2.5),
        ("7+", 2, 6.0, 5.0),
    ]


def test_cdnow_report(cdnow: CustomerSummary) -> None:
    report = fit_all(cdnow)
    out = as_dict(report)
    assert out["holdout"]["actual"] == 1882
    assert report.holdout is not None
    classes = {c.label: c for c in report.holdout.classes}
    assert sum(c.customers for c in classes.values()) == 2357
    assert classes["0"].customers == 1411 and classes["7+"].customers == 64
    # each model's class means are its per-customer predictions averaged, so the totals agree
    total = sum(c.customers * c.predicted["bgnbd"] for c in classes.values())
    assert total == pytest.approx(out["holdout"]["bgnbd"])


def test_spend_left_out_with_a_note_when_no_repeat_purchase_was_paid() -> None:
    orders = pl.DataFrame(
        {
            "customer": ["a", "b", "c", "d", "a"],
            "day": [date(2024, 1, d) for d in (1, 3, 5, 7, 20)],
            "paid": [5.0, 6.0, 7.0, 8.0, 0.0],  # a's repeat purchase was free
        }
    )
    summary = rfm_summary(
        orders, customer="customer", date="day", amount="paid", calibration_end=date(2024, 1, 31)
    )
    report = fit_all(summary)
    assert report.gamma_gamma is None and report.holdout is None
    assert report.notes[-1] == "Gamma-Gamma left out: 0 customers with repeat purchases and spend"
    assert as_dict(report)["gamma_gamma"] is None
