"""Pure RFM scoring in NumPy: cut points (quintiles or operator thresholds), 1–5 scores, the eight tiers.

No I/O: the service reads recency/frequency/monetary arrays, calls these functions and writes the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from siyu.rfm.tiers import TIERS as TIERS  # re-exported: scores and tiers in one place
from siyu.rfm.tiers import tier_label as tier_label

IntArray = npt.NDArray[np.int64]
Cuts = list[float | None]  # the value that reaches score 2, 3, 4, 5 (None: no value reaches it)
DIMENSIONS = ("recency_days", "frequency", "monetary")
SCORES = 5

# index = 4*M_high + 2*R_high + F_high  → tier code
BY_BITS = (
    "general_win_back",  # M↓ R↓ F↓
    "general_retain",  # M↓ R↓ F↑
    "general_develop",  # M↓ R↑ F↓
    "general_value",  # M↓ R↑ F↑
    "important_win_back",  # M↑ R↓ F↓
    "important_retain",  # M↑ R↓ F↑
    "important_develop",  # M↑ R↑ F↓
    "important_value",  # M↑ R↑ F↑
)
TIER_CODES = np.array(BY_BITS, dtype=object)


@dataclass(frozen=True)
class CutPoints:
    """Per dimension, the value needed for scores 2..5. Recency counts down (fewer days = higher score):
    score = 1 + #{k: days ≤ cut_k}; frequency and monetary count up: score = 1 + #{k: value ≥ cut_k}."""

    recency_days: Cuts
    frequency: Cuts
    monetary: Cuts

    def as_dict(self) -> dict[str, Cuts]:
        return {"recency_days": self.recency_days, "frequency": self.frequency, "monetary": self.monetary}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float | None]]) -> CutPoints:
        cuts = {name: _checked(name, data.get(name)) for name in DIMENSIONS}
        return cls(**cuts)


def _checked(name: str, values: Sequence[float | None] | None) -> Cuts:
    if values is None or len(values) != SCORES - 1:
        raise ValueError(f"{name}: give {SCORES - 1} cut points (for scores 2..{SCORES})")
    given = list(values)
    first_null = next((i for i, v in enumerate(given) if v is None), len(given))
    if any(v is not None for v in given[first_null:]):
        raise ValueError(f"{name}: only the last cut points may be null (no value reaches them)")
    present: list[float] = []
    for v in given[:first_null]:
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ValueError(f"{name}: cut points must be finite numbers")
        present.append(v)
    if present != sorted(present, reverse=name == "recency_days"):
        way = "not increase" if name == "recency_days" else "not decrease"
        raise ValueError(f"{name}: cut points must {way} from score 2 to score {SCORES}")
    cuts: Cuts = [*present, *[None] * (len(given) - first_null)]
    return cuts


def _midrank_cuts(values: npt.NDArray[Any], higher_is_better: bool) -> Cuts:
    """Quintile cut points that never split a tie: a value's percentile is the share of customers that
    are worse plus half the share with the same value; score = 1 + ⌊5 × percentile⌋ (at most 5).
    Integer arithmetic, so equal inputs always give equal cut points."""
    n = len(values)
    if n == 0:
        return [None] * (SCORES - 1)
    keyed = values if higher_is_better else -values
    unique, counts = np.unique(keyed, return_counts=True)
    worse = np.cumsum(counts) - counts
    scores = np.minimum(SCORES * (2 * worse + counts) // (2 * n), SCORES - 1) + 1
    cuts: Cuts = []
    for k in range(2, SCORES + 1):
        at = int(np.searchsorted(scores, k, side="left"))
        if at == len(unique):
            cuts.append(None)
        else:
            value = int(unique[at])  # the inputs are whole days, counts and minor units
            cuts.append(value if higher_is_better else -value)
    return cuts


def quintile_cuts(recency_days: IntArray, frequency: IntArray, monetary: IntArray) -> CutPoints:
    return CutPoints(
        recency_days=_midrank_cuts(recency_days, higher_is_better=False),
        frequency=_midrank_cuts(frequency, higher_is_better=True),
        monetary=_midrank_cuts(monetary, higher_is_better=True),
    )


def score(values: npt.NDArray[Any], cuts: Cuts, *, higher_is_better: bool) -> IntArray:
    """1..5 for each value against cut points (see `CutPoints`); monotonic in the value."""
    out = np.ones(len(values), dtype=np.int64)
    for cut in cuts:
        if cut is None:
            continue
        out += (values >= cut) if higher_is_better else (values <= cut)
    return out


@dataclass(frozen=True)
class Scored:
    r: IntArray
    f: IntArray
    m: IntArray
    tier: npt.NDArray[np.object_]


def score_all(
    recency_days: IntArray, frequency: IntArray, monetary: IntArray, cuts: CutPoints, *, high_score: int = 3
) -> Scored:
    """Scores and tier codes; a dimension is "high" when its score ≥ `high_score`."""
    if not 1 <= high_score <= SCORES:
        raise ValueError(f"high_score must be between 1 and {SCORES}")
    r = score(recency_days, cuts.recency_days, higher_is_better=False)
    f = score(frequency, cuts.frequency, higher_is_better=True)
    m = score(monetary, cuts.monetary, higher_is_better=True)
    bits = 4 * (m >= high_score) + 2 * (r >= high_score) + (f >= high_score)
    return Scored(r=r, f=f, m=m, tier=TIER_CODES[bits])


def tier_of(r: int, f: int, m: int, *, high_score: int = 3) -> str:
    """The tier code of one customer's scores (same mapping as `score_all`)."""
    return str(BY_BITS[4 * (m >= high_score) + 2 * (r >= high_score) + (f >= high_score)])
