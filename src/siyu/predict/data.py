"""Validated model inputs, repeat-purchase data (x, t_x, T) and repeat-spend data (x, m_x), which check
their arrays once (explicit `ValidationFailed` naming the field); and the purchase models' predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from siyu.core.errors import ValidationFailed

Vector = npt.NDArray[np.float64]
GRID_STEPS = (1.0, 7.0)  # times as rfm_summary makes them: whole days, in days or in weeks
Index = npt.NDArray[np.intp]


def as_vector(values: npt.ArrayLike, field: str) -> Vector:
    """A 1-D float64 copy of `values`; refuses NaN and infinities."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{field} must be numbers", field=field) from exc
    if array.ndim != 1:
        array = array.reshape(-1)
    if not np.all(np.isfinite(array)):
        raise ValidationFailed(f"{field} has missing or infinite values", field=field)
    return array


def _weights(weights: npt.ArrayLike | None, n: int) -> Vector:
    if weights is None:
        return np.ones(n)
    array = as_vector(weights, "weights")
    if array.shape[0] != n:
        raise ValidationFailed(f"weights has {array.shape[0]} values for {n} customers", field="weights")
    if np.any(array <= 0):
        raise ValidationFailed("weights must be positive", field="weights")
    return array


def _first_bad(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def group_codes(*columns: Vector) -> tuple[Index, Index, Vector]:
    """Rows with identical values in every column: (a row of each group, group of each row, group sizes).

    Columns are coded (whole days without a sort) and combined into one integer key; whenever the key's
    range would outgrow a table of ~4 entries per row it is renumbered by marking that table, so grouping
    1M summaries costs a few linear passes instead of sorts.
    """
    n = columns[0].shape[0]
    limit = max(4 * n, 1 << 20)
    key = np.zeros(n, dtype=np.int64)
    distinct = 1
    for column in columns:
        codes, size = _codes(column)
        if distinct * size > limit:
            key, distinct = _renumber(key, distinct, limit)
        key = key * size + codes
        distinct *= size
    if distinct > limit:
        _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        return first, inverse, counts.astype(np.float64)
    key, groups = _renumber(key, distinct, limit)
    representative = np.empty(groups, dtype=np.intp)
    representative[key] = np.arange(n)  # any member will do: they are identical
    return representative, key.astype(np.intp), np.bincount(key, minlength=groups).astype(np.float64)


def _renumber(key: npt.NDArray[np.int64], distinct: int, limit: int) -> tuple[npt.NDArray[np.int64], int]:
    """The same grouping with keys 0..k-1: by marking a table when the range is small, else by sorting."""
    if distinct > limit:
        _, inverse = np.unique(key, return_inverse=True)
        return inverse.astype(np.int64), int(inverse.max(initial=-1)) + 1
    present = np.zeros(distinct, dtype=np.bool_)
    present[key] = True
    number = np.cumsum(present, dtype=np.int64) - 1
    return number[key], int(number[-1]) + 1


def _codes(column: Vector) -> tuple[npt.NDArray[np.int64], int]:
    """Dense codes of a column's values; whole days (in days, or k/7 in weeks) are coded without a sort."""
    if column.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 1
    for steps in GRID_STEPS:
        scaled = np.round(column * steps)
        low, high = float(scaled.min()), float(scaled.max())
        if high - low < 1 << 22 and np.array_equal(scaled / steps, column):
            return (scaled - low).astype(np.int64), int(high - low) + 1
    _, codes = np.unique(column, return_inverse=True)
    return codes.astype(np.int64), int(codes.max(initial=0)) + 1


@dataclass(frozen=True, init=False)
class FrequencyData:
    """Per customer: x repeat purchases, recency t_x (time of the last one) and age T, since the first.

    `weight` counts how many customers share a row (1 each unless the data was grouped).
    """

    x: Vector
    t_x: Vector
    T: Vector
    weight: Vector

    def __init__(
        self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike, weight: npt.ArrayLike | None = None
    ) -> None:
        xs, ts, ages = as_vector(x, "frequency"), as_vector(t_x, "recency"), as_vector(T, "T")
        n = xs.shape[0]
        if n == 0:
            raise ValidationFailed("no customers to fit", field="frequency")
        if ts.shape[0] != n or ages.shape[0] != n:
            raise ValidationFailed(
                f"frequency, recency and T differ in length ({n}, {ts.shape[0]}, {ages.shape[0]})",
                field="recency",
            )
        for name, values in (("frequency", xs), ("recency", ts), ("T", ages)):
            if np.any(values < 0):
                row = _first_bad(values < 0)
                raise ValidationFailed(f"{name} is negative for customer #{row}", field=name)
        if np.any(xs != np.floor(xs)):
            raise ValidationFailed("frequency must be whole numbers of repeat purchases", field="frequency")
        late = ts > ages
        if np.any(late):
            row = _first_bad(late)
            raise ValidationFailed(
                f"recency {ts[row]:g} is later than T {ages[row]:g} for customer #{row}", field="recency"
            )
        stray = (xs == 0) & (ts != 0)
        if np.any(stray):
            row = _first_bad(stray)
            raise ValidationFailed(
                f"customer #{row} has no repeat purchase but recency {ts[row]:g} (must be 0)", field="recency"
            )
        object.__setattr__(self, "x", xs)
        object.__setattr__(self, "t_x", ts)
        object.__setattr__(self, "T", ages)
        object.__setattr__(self, "weight", _weights(weight, n))

    @property
    def customers(self) -> float:
        return float(self.weight.sum())

    def grouped(self) -> FrequencyData:
        """Identical (x, t_x, T) rows merged into one with the summed weight (sufficient statistics)."""
        first, inverse, _ = group_codes(self.x, self.t_x, self.T)
        weight = np.bincount(inverse, weights=self.weight, minlength=first.shape[0])
        return FrequencyData(self.x[first], self.t_x[first], self.T[first], weight)


@dataclass(frozen=True)
class Prediction:
    """Per customer, from a purchase model: P(still active) and the purchases expected in the horizon."""

    p_alive: Vector
    expected_purchases: Vector


@dataclass(frozen=True, init=False)
class SpendData:
    """Per repeat customer: x repeat purchases and m_x, their mean value (Gamma-Gamma's input)."""

    x: Vector
    m_x: Vector
    weight: Vector

    def __init__(self, x: npt.ArrayLike, m_x: npt.ArrayLike, weight: npt.ArrayLike | None = None) -> None:
        xs, ms = as_vector(x, "frequency"), as_vector(m_x, "monetary_value")
        n = xs.shape[0]
        if n == 0:
            raise ValidationFailed("no repeat customers to fit spend on", field="frequency")
        if ms.shape[0] != n:
            raise ValidationFailed(
                f"frequency and monetary_value differ in length ({n}, {ms.shape[0]})", field="monetary_value"
            )
        if np.any(xs < 1) or np.any(xs != np.floor(xs)):
            raise ValidationFailed(
                "frequency must be a whole number ≥ 1 (keep customers with repeat purchases only)",
                field="frequency",
            )
        if np.any(ms <= 0):
            row = _first_bad(ms <= 0)
            raise ValidationFailed(
                f"monetary_value must be positive; customer #{row} has {ms[row]:g}", field="monetary_value"
            )
        object.__setattr__(self, "x", xs)
        object.__setattr__(self, "m_x", ms)
        object.__setattr__(self, "weight", _weights(weight, n))
