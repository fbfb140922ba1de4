"""A/B/n experiment statistics (pure): conversion (two-proportion z-test, Wald CI of the difference), revenue
per customer (Welch t-test and CI, seeded percentile bootstrap CI), wake-up rate, Holm-adjusted p-values
across arms, sample-ratio mismatch (chi-square against intended weights) and uplift against a holdout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import sqrt
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

from siyu.analytics import verdicts
from siyu.core.errors import ValidationFailed

HOLDOUT = "holdout"
SRM_ALPHA = 0.001  # a split this unlikely under the intended weights is a broken split, not bad luck
BOOT_CHUNK = 250
BOOT_CELLS = 4_000_000  # resampled values held in memory at once
BOOT_BUDGET = 400_000_000  # resampled values per comparison; larger arms get fewer resamples (reported)


@dataclass(frozen=True)
class ArmData:
    """One arm: customers, conversions, optionally revenue per customer (minor units, one value per
    customer, zeros included) and the wake-up counts of its silent customers."""

    name: str
    n: int
    conversions: int
    revenue: NDArray[np.float64] | None = None
    silent: int | None = None
    woken: int | None = None

    def __post_init__(self) -> None:
        if self.n < 0 or not 0 <= self.conversions <= self.n:
            raise ValidationFailed(f"arm {self.name!r}: need 0 ≤ conversions ≤ n", field="arms")
        if self.revenue is not None and len(self.revenue) != self.n:
            raise ValidationFailed(f"arm {self.name!r}: one revenue value per customer", field="arms")
        if (self.silent is None) != (self.woken is None) or (
            self.silent is not None and self.woken is not None and not 0 <= self.woken <= self.silent
        ):
            raise ValidationFailed(f"arm {self.name!r}: need 0 ≤ woken ≤ silent", field="arms")


def arms_from_rows(rows: Iterable[tuple[str, bool | int, float | None]]) -> list[ArmData]:
    """(arm, converted, revenue) per customer → arms, in order of first appearance."""
    converted: dict[str, list[int]] = {}
    revenue: dict[str, list[float]] = {}
    for arm, conv, rev in rows:
        converted.setdefault(arm, []).append(1 if conv else 0)
        revenue.setdefault(arm, []).append(0.0 if rev is None else float(rev))
    return arms_from_arrays(converted, revenue)


def arms_from_arrays(
    converted: Mapping[str, Sequence[int | bool]], revenue: Mapping[str, Sequence[float]] | None = None
) -> list[ArmData]:
    out = []
    for name, values in converted.items():
        flags = np.asarray(values, dtype=np.int64)
        money = (
            None if revenue is None or name not in revenue else np.asarray(revenue[name], dtype=np.float64)
        )
        out.append(ArmData(name, len(flags), int(flags.sum()), money))
    return out


@dataclass
class Comparison:
    metric: str  # conversion | revenue | wakeup
    arm: str
    baseline: str
    baseline_value: float | None
    arm_value: float | None
    difference: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None = None
    relative: float | None = None
    bootstrap_ci: tuple[float, float] | None = None
    bootstrap_resamples: int | None = None
    test: str = ""
    significant: bool = False
    verdict: str = ""
    verdict_zh: str = ""


@dataclass
class Report:
    arms: list[dict[str, Any]]
    control: str
    alpha: float
    srm: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    uplift: list[Comparison] = field(default_factory=list)
    verdict: str = ""
    verdict_zh: str = ""


def two_proportions(
    x1: int, n1: int, x0: int, n0: int, alpha: float
) -> tuple[float, tuple[float, float], float]:
    """Difference p1 − p0, its Wald CI (unpooled standard error) and the pooled z-test two-sided p."""
    p1, p0 = x1 / n1, x0 / n0
    diff = p1 - p0
    z_crit = float(stats.norm.ppf(1 - alpha / 2))
    se = sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    se_pooled = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    p_value = 1.0 if se_pooled == 0 else float(2 * stats.norm.sf(abs(diff / se_pooled)))
    return diff, (diff - z_crit * se, diff + z_crit * se), p_value


def welch(
    a: NDArray[np.float64], b: NDArray[np.float64], alpha: float
) -> tuple[float, tuple[float, float], float]:
    """Mean difference a − b, its Welch CI and the Welch t-test two-sided p."""
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = sqrt(va + vb)
    if se == 0:
        return diff, (diff, diff), 1.0 if diff == 0 else 0.0
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t_crit = float(stats.t.ppf(1 - alpha / 2, df))
    p_value = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return diff, (diff - t_crit * se, diff + t_crit * se), p_value


def boot_resamples(n_boot: int, size: int) -> int:
    """Resamples actually drawn: `n_boot`, fewer when the arms are so large the work budget runs out
    (at least 200; with arms this large the Welch interval is as good)."""
    return min(n_boot, max(200, BOOT_BUDGET // max(size, 1)))


def bootstrap_diff(
    a: NDArray[np.float64], b: NDArray[np.float64], alpha: float, n_boot: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(a) − mean(b), resampling each arm independently."""
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    chunk = max(1, min(BOOT_CHUNK, BOOT_CELLS // (len(a) + len(b))))
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        ma = a[rng.integers(0, len(a), size=(k, len(a)))].mean(axis=1)
        mb = b[rng.integers(0, len(b), size=(k, len(b)))].mean(axis=1)
        diffs[start : start + k] = ma - mb
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def sample_ratio(arms: Sequence[ArmData], weights: Mapping[str, float] | None) -> dict[str, Any]:
    """Chi-square goodness of fit of the arm sizes against the intended weights (equal by default)."""
    names = [a.name for a in arms]
    wanted = {n: 1.0 for n in names} if not weights else {n: float(weights.get(n, 0.0)) for n in names}
    if not all(0 < w < float("inf") for w in wanted.values()):  # also refuses NaN
        missing = sorted(n for n, w in wanted.items() if not 0 < w < float("inf"))
        raise ValidationFailed(f"weights must be positive for every arm; check {missing}", field="weights")
    total_w = sum(wanted.values())
    observed = np.array([a.n for a in arms], dtype=np.float64)
    expected = observed.sum() * np.array([wanted[n] / total_w for n in names])
    if observed.sum() == 0 or len(arms) < 2:
        return {"chi2": None, "p_value": None, "mismatch": False, "expected": {}, "observed": {}}
    chi2, p_value = stats.chisquare(observed, expected)
    return {
        "chi2": float(chi2),
        "p_value": float(p_value),
        "mismatch": bool(p_value < SRM_ALPHA),
        "weights": {n: wanted[n] / total_w for n in names},
        "expected": {n: float(e) for n, e in zip(names, expected, strict=True)},
        "observed": {a.name: a.n for a in arms},
    }


def _proportion(metric: str, arm: ArmData, base: ArmData, alpha: float) -> Comparison:
    if metric == "wakeup":
        x1, n1, x0, n0 = arm.woken or 0, arm.silent or 0, base.woken or 0, base.silent or 0
    else:
        x1, n1, x0, n0 = arm.conversions, arm.n, base.conversions, base.n
    p1, p0 = (x1 / n1 if n1 else None), (x0 / n0 if n0 else None)
    if not n1 or not n0:
        return Comparison(metric, arm.name, base.name, p0, p1, None, None, None, test="two-proportion z")
    diff, ci, p_value = two_proportions(x1, n1, x0, n0, alpha)
    relative = diff / p0 if p0 else None
    return Comparison(metric, arm.name, base.name, p0, p1, diff, ci, p_value, relative=relative,
                      test="two-proportion z")  # fmt: skip


def _revenue(arm: ArmData, base: ArmData, alpha: float, n_boot: int, seed: int) -> Comparison | None:
    if arm.revenue is None or base.revenue is None:
        return None
    a, b = arm.revenue, base.revenue
    m1, m0 = (float(a.mean()) if len(a) else None), (float(b.mean()) if len(b) else None)
    if len(a) < 2 or len(b) < 2:
        return Comparison("revenue", arm.name, base.name, m0, m1, None, None, None, test="Welch t")
    diff, ci, p_value = welch(a, b, alpha)
    resamples = boot_resamples(n_boot, len(a) + len(b)) if n_boot else 0
    boot = bootstrap_diff(a, b, alpha, resamples, seed) if resamples else None
    relative = diff / m0 if m0 else None
    return Comparison("revenue", arm.name, base.name, m0, m1, diff, ci, p_value, relative=relative,
                      bootstrap_ci=boot, bootstrap_resamples=resamples or None, test="Welch t")  # fmt: skip


def _compare_all(
    arms: Sequence[ArmData], base: ArmData, alpha: float, n_boot: int, seed: int
) -> list[Comparison]:
    out: list[Comparison] = []
    others = [a for a in arms if a.name != base.name]
    for metric in ("conversion", "revenue", "wakeup"):
        found: list[Comparison] = []
        for arm in others:
            if metric == "revenue":
                rev = _revenue(arm, base, alpha, n_boot, seed)
                if rev is not None:
                    found.append(rev)
            elif metric == "conversion" or (arm.silent is not None and base.silent is not None):
                found.append(_proportion(metric, arm, base, alpha))
        tested = [c for c in found if c.p_value is not None]
        if tested:
            adjusted = multipletests([c.p_value for c in tested], alpha=alpha, method="holm")[1]
            for c, p_adj in zip(tested, adjusted, strict=True):
                c.p_adjusted = float(p_adj)
                c.significant = bool(p_adj < alpha)
        out.extend(found)
    return out


def pick_control(arms: Sequence[ArmData], control: str | None) -> ArmData:
    names = [a.name for a in arms]
    if control is not None:
        if control not in names:
            raise ValidationFailed(f"control {control!r} is not one of the arms {names}", field="control")
        return arms[names.index(control)]
    for preferred in ("control", "A", "a", HOLDOUT):
        if preferred in names:
            return arms[names.index(preferred)]
    return arms[0]


def analyze(
    arms: Sequence[ArmData],
    *,
    control: str | None = None,
    weights: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    currency: str = "CNY",
) -> Report:
    """Compare every arm with the control (and with the holdout arm, when there is one)."""
    if len(arms) < 2:
        raise ValidationFailed("an experiment needs at least two arms", field="arms")
    if len({a.name for a in arms}) != len(arms):
        raise ValidationFailed("arm names must be unique", field="arms")
    if not 0 < alpha < 0.5:
        raise ValidationFailed("alpha must be between 0 and 0.5", field="alpha")
    if not 0 <= n_boot <= 20000:
        raise ValidationFailed("n_boot must be from 0 to 20000", field="n_boot")
    base = pick_control(arms, control)
    report = Report(
        arms=[_arm_summary(a) for a in arms], control=base.name, alpha=alpha, srm=sample_ratio(arms, weights)
    )
    report.comparisons = _compare_all(arms, base, alpha, n_boot, seed)
    names = [a.name for a in arms]
    if base.name == HOLDOUT:
        report.uplift = report.comparisons
    elif HOLDOUT in names:
        report.uplift = _compare_all(arms, arms[names.index(HOLDOUT)], alpha, n_boot, seed)
    for c in {id(c): c for c in [*report.comparisons, *report.uplift]}.values():
        c.verdict, c.verdict_zh = verdicts.comparison(c, alpha, currency)
    report.verdict, report.verdict_zh = verdicts.overall(report.comparisons, report.srm, alpha)
    return report


def _arm_summary(arm: ArmData) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": arm.name,
        "n": arm.n,
        "conversions": arm.conversions,
        "conversion_rate": arm.conversions / arm.n if arm.n else None,
    }
    if arm.revenue is not None:
        out["revenue_total"] = float(arm.revenue.sum())
        out["revenue_per_customer"] = float(arm.revenue.mean()) if arm.n else None
    if arm.silent is not None:
        out["silent"] = arm.silent
        out["woken"] = arm.woken
        out["wakeup_rate"] = (arm.woken or 0) / arm.silent if arm.silent else None
    return out
