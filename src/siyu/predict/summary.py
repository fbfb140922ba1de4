"""Transactions → per-customer model inputs: repeat frequency x, recency t_x, age T, mean repeat spend,
split at a calibration date, with the repeat purchases each customer actually made in the holdout.

One transaction per customer-day (the papers' convention): same-day rows are summed into one purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from siyu.core.errors import ValidationFailed
from siyu.predict.data import FrequencyData, SpendData, Vector
from siyu.predict.dates import as_days

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}


@dataclass(frozen=True)
class CustomerSummary:
    """One row per customer who bought on or before `calibration_end`.

    Columns of `frame`: customer, frequency, recency, T, monetary_value (mean of the repeat days' totals,
    0 without repeats), and holdout_frequency when a holdout period was given. Times in `time_unit`.
    """

    frame: pl.DataFrame
    time_unit: TimeUnit
    calibration_end: date
    holdout_end: date | None

    @property
    def holdout_length(self) -> float | None:
        """Length of the holdout period in `time_unit` (None without one)."""
        if self.holdout_end is None:
            return None
        return (self.holdout_end - self.calibration_end).days / UNIT_DAYS[self.time_unit]

    def frequency_data(self) -> FrequencyData:
        f = self.frame
        return FrequencyData(f["frequency"].to_numpy(), f["recency"].to_numpy(), f["T"].to_numpy())

    def spend_data(self) -> SpendData:
        """Customers with repeat purchases and a positive mean repeat spend (Gamma-Gamma's input)."""
        repeat = self.frame.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
        return SpendData(repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy())

    def holdout_actual(self) -> Vector:
        if "holdout_frequency" not in self.frame.columns:
            raise ValidationFailed("no holdout period was given", field="holdout_end")
        return np.asarray(self.frame["holdout_frequency"].to_numpy(), dtype=np.float64)


def rfm_summary(
    transactions: pl.DataFrame,
    *,
    customer: str,
    date: str,
    calibration_end: date,
    amount: str | None = None,
    holdout_end: date | None = None,
    time_unit: TimeUnit = "weeks",
) -> CustomerSummary:
    """Summarise `transactions` (one row per purchase) for the BTYD and spend models."""
    if time_unit not in UNIT_DAYS:
        raise ValidationFailed(f"time_unit must be days or weeks, not {time_unit!r}", field="time_unit")
    if holdout_end is not None and holdout_end <= calibration_end:
        raise ValidationFailed("holdout_end must be after calibration_end", field="holdout_end")
    for column in (customer, date, amount):
        if column is not None and column not in transactions.columns:
            raise ValidationFailed(
                f"no column {column!r}; the file has {', '.join(transactions.columns)}", field=column
            )
    if transactions.height == 0:
        raise ValidationFailed("no transactions", field=date)
    if transactions[customer].null_count():
        raise ValidationFailed(f"column {customer!r} has empty customer ids", field=customer)
    days = as_days(transactions[date], date)
    if amount:
        spend = _amounts(transactions[amount], amount)
    else:
        spend = pl.repeat(0.0, transactions.height, eager=True)
    daily = (
        pl.DataFrame({"customer": transactions[customer], "day": days, "amount": spend})
        .filter(pl.col("day") <= (holdout_end or calibration_end))
        .group_by("customer", "day")
        .agg(pl.col("amount").sum())
    )
    frame = _calibration(daily, calibration_end, UNIT_DAYS[time_unit])
    if frame.height == 0:
        raise ValidationFailed(f"no transactions on or before {calibration_end.isoformat()}", field=date)
    if holdout_end is not None:
        holdout = (
            daily.filter(pl.col("day") > calibration_end)
            .group_by("customer")
            .agg(holdout_frequency=pl.len().cast(pl.Float64))
        )
        frame = frame.join(holdout, on="customer", how="left").with_columns(
            pl.col("holdout_frequency").fill_null(0.0)
        )
    return CustomerSummary(frame, time_unit, calibration_end, holdout_end)


def _calibration(daily: pl.DataFrame, end: date, unit_days: float) -> pl.DataFrame:
    per_customer = (
        daily.filter(pl.col("day") <= end)
        .sort("customer", "day")
        .group_by("customer", maintain_order=True)
        .agg(
            first=pl.col("day").first(),
            last=pl.col("day").last(),
            days=pl.len(),
            total=pl.col("amount").sum(),
            first_amount=pl.col("amount").first(),
        )
    )
    frequency = (pl.col("days") - 1).cast(pl.Float64)
    return per_customer.select(
        "customer",
        frequency=frequency,
        recency=(pl.col("last") - pl.col("first")).dt.total_days() / unit_days,
        T=(pl.lit(end) - pl.col("first")).dt.total_days() / unit_days,
        monetary_value=pl.when(frequency > 0)
        .then((pl.col("total") - pl.col("first_amount")) / frequency)
        .otherwise(0.0),
    )


def _amounts(values: pl.Series, column: str) -> pl.Series:
    numbers = values.cast(pl.Float64, strict=False)
    bad = numbers.is_null() | ~numbers.is_finite()
    if bad.any():
        row = int(bad.arg_max() or 0)
        raise ValidationFailed(
            f"column {column!r} row {row + 1}: {values[row]!r} is not an amount", field=column
        )
    return numbers.alias("amount")
