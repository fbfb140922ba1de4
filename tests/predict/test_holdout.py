"""Holdout comparison by calibration frequency class, and the report on CDNOW."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.predict.holdout import compare
from siyu.predict.report import as_dict, fit_all
from siyu.predict.summary import CustomerSummary


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
