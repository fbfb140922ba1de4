"""rfm_summary: hand-computed values on a small table, date shapes, errors, and the CDNOW totals."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from siyu.core.errors import ValidationFailed
from siyu.predict.summary import CustomerSummary, rfm_summary

END, HOLDOUT = date(2024, 1, 29), date(2024, 3, 11)


def _table(dates: list[object]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cid": ["a", "a", "a", "a", "b", "c", "c", "d"],
            "day": dates,
            "paid": [10.0, 5.0, 20.0, 30.0, 7.0, 1.0, 2.0, 9.0],
        }
    )


ISO = [
    "2024-01-01",
    "2024-01-01",
    "2024-01-15",
    "2024-01-29",
    "2024-01-08",
    "2024-01-22",
    "2024-02-05",
    "2024-02-01",
]


def _summary(frame: pl.DataFrame, **extra: object) -> CustomerSummary:
    return rfm_summary(
        frame, customer="cid", date="day", amount="paid", calibration_end=END, holdout_end=HOLDOUT, **extra
    )  # type: ignore[arg-type]


def test_hand_computed_summary_in_weeks() -> None:
    rows = {r["customer"]: r for r in _summary(_table(ISO)).frame.iter_rows(named=True)}
    assert set(rows) == {"a", "b", "c"}  # d first bought after the calibration end
    # a: days 01-01 (two rows, 15 in total), 01-15, 01-29 → two repeat days; mean of 20 and 30
    assert rows["a"] == {
        "customer": "a",
        "frequency": 2.0,
        "recency": 4.0,
        "T": 4.0,
        "monetary_value": 25.0,
        "holdout_frequency": 0.0,
    }
    assert (rows["b"]["frequency"], rows["b"]["recency"], rows["b"]["T"]) == (0.0, 0.0, 3.0)
    assert rows["b"]["monetary_value"] == 0.0
    assert (rows["c"]["frequency"], rows["c"]["T"], rows["c"]["holdout_frequency"]) == (0.0, 1.0, 1.0)


def test_days_unit_and_holdout_length() -> None:
    summary = _summary(_table(ISO), time_unit="days")
    a = summary.frame.filter(pl.col("customer") == "a").row(0, named=True)
    assert (a["recency"], a["T"]) == (28.0, 28.0)
    assert summary.holdout_length == 42.0
    assert _summary(_table(ISO)).holdout_length == 6.0


@pytest.mark.parametrize(
    "dates",
    [
        [date.fromisoformat(d) for d in ISO],
        [datetime.fromisoformat(d + "T10:30:00") for d in ISO],
        [int(d.replace("-", "")) for d in ISO],
        [d.replace("-", "/") for d in ISO],
        [d + " 08:00:00" for d in ISO],
    ],
    ids=["date", "datetime", "yyyymmdd-int", "slashes", "text-datetime"],
)
def test_every_date_shape_gives_the_same_summary(dates: list[object]) -> None:
    assert _summary(_table(dates)).frame.equals(_summary(_table(ISO)).frame)


def test_inputs_for_the_models() -> None:
    summary = _summary(_table(ISO))
    data = summary.frequency_data()
    assert data.x.tolist() == [2.0, 0.0, 0.0]
    spend = summary.spend_data()
    assert (spend.x.tolist(), spend.m_x.tolist()) == ([2.0], [25.0])
    assert summary.holdout_actual().tolist() == [0.0, 0.0, 1.0]


def test_without_amount_or_holdout() -> None:
    summary = rfm_summary(_table(ISO), customer="cid", date="day", calibration_end=END)
    assert "holdout_frequency" not in summary.frame.columns
    assert summary.holdout_length is None
    with pytest.raises(ValidationFailed) as caught:
        summary.holdout_actual()
    assert caught.value.field == "holdout_end"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"customer": "buyer"}, "buyer", "no column 'buyer'"),
        ({"date": "when"}, "when", "no column 'when'"),
        ({"amount": "total"}, "total", "no column 'total'"),
        ({"holdout_end": date(2024, 1, 1)}, "holdout_end", "after calibration_end"),
        ({"calibration_end": date(2023, 1, 1)}, "day", "no transactions on or before 2023-01-01"),
        ({"time_unit": "months"}, "time_unit", "days or weeks"),
    ],
)
def test_bad_arguments_name_the_field(change: dict[str, object], field: str, words: str) -> None:
    args: dict[str, object] = {"customer": "cid", "date": "day", "amount": "paid", "calibration_end": END}
    args["holdout_end"] = HOLDOUT
    args.update(change)
    with pytest.raises(ValidationFailed) as caught:
        rfm_summary(_table(ISO), **args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.message


def test_bad_cells_name_the_row() -> None:
    broken = _table([*ISO[:3], "29/01/2024?", *ISO[4:]])
    with pytest.raises(ValidationFailed) as caught:
        _summary(broken)
    assert caught.value.field == "day"
    assert "row 4" in caught.value.message and "29/01/2024?" in caught.value.message
    money = _table(ISO).with_columns(
        pl.when(pl.int_range(8) == 2)
        .then(pl.lit("lots"))
        .otherwise(pl.col("paid").cast(pl.String))
        .alias("paid")
    )
    with pytest.raises(ValidationFailed, match="row 3: 'lots' is not an amount"):
        _summary(money)
    with pytest.raises(ValidationFailed, match="empty customer ids"):
        _summary(
            _table(ISO).with_columns(pl.when(pl.int_range(8) == 1).then(None).otherwise("cid").alias("cid"))
        )
    with pytest.raises(ValidationFailed, match="no transactions"):
        _summary(_table(ISO).clear())


def test_cdnow_summary_matches_the_papers_data(cdnow: CustomerSummary) -> None:
    frame = cdnow.frame
    assert frame.height == 2357
    assert frame.filter(pl.col("frequency") > 0).height == 946  # Gamma-Gamma's repeat customers
    assert frame["frequency"].sum() == 2457  # repeat transactions in weeks 1-39
    assert frame["T"].max() == pytest.approx(272 / 7)  # first purchase 1997-01-01
    assert frame["T"].min() == pytest.approx(189 / 7)  # the cohort bought first by 1997-03-25
    assert frame["holdout_frequency"].sum() == 1882  # repeat transactions in weeks 40-78
    assert cdnow.holdout_length == 39.0
