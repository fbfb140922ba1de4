"""Experiment statistics against hand calculations, statsmodels and scipy, and the verdict texts."""

from __future__ import annotations

from math import erf, sqrt

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from siyu.analytics.experiments import (
    ArmData,
    analyze,
    arms_from_arrays,
    arms_from_rows,
    bootstrap_diff,
    sample_ratio,
    two_proportions,
    welch,
)
from siyu.core.errors import ValidationFailed


def normal_sf(z: float) -> float:
    return 0.5 * (1 - erf(z / sqrt(2)))


def test_two_proportion_z_by_hand_and_statsmodels() -> None:
    # B 250/1000 vs A 200/1000. Pooled p = 450/2000 = 0.225; SE = sqrt(0.225 × 0.775 × (1/1000 + 1/1000))
    # = 0.0186749; z = 0.05 / 0.0186749 = 2.67740; two-sided p = 2 × (1 − Φ(2.6774)) = 0.007420
    diff, ci, p = two_proportions(250, 1000, 200, 1000, 0.05)
    assert diff == pytest.approx(0.05)
    se_pooled = sqrt(0.225 * 0.775 * 0.002)
    assert p == pytest.approx(2 * normal_sf(0.05 / se_pooled), rel=1e-9)
    assert p == pytest.approx(0.007420, abs=5e-6)
    z_sm, p_sm = proportions_ztest([250, 200], [1000, 1000])
    assert z_sm == pytest.approx(2.6774, abs=1e-4) and p == pytest.approx(p_sm, rel=1e-9)
    # Wald CI with the unpooled SE sqrt(0.25·0.75/1000 + 0.2·0.8/1000) = 0.0186414: 0.05 ± 1.96 × SE
    assert ci == pytest.approx((0.05 - 1.959964 * 0.0186414, 0.05 + 1.959964 * 0.0186414), abs=1e-6)
    assert ci == pytest.approx(confint_proportions_2indep(250, 1000, 200, 1000, method="wald"), abs=1e-12)


def test_welch_matches_scipy_and_statsmodels() -> None:
    a = np.array([27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4])
    b = np.array([27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4])
    diff, ci, p = welch(a, b, 0.05)
    # a textbook Welch example (Wikipedia, "Welch's t-test", example 1): t = −2.46, ν ≈ 25.0, p ≈ 0.021
    result = stats.ttest_ind(a, b, equal_var=False)
    assert result.statistic == pytest.approx(-2.46, abs=0.01)
    assert p == pytest.approx(result.pvalue) and p == pytest.approx(0.021, abs=0.001)
    assert diff == pytest.approx(a.mean() - b.mean())
    expected = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(alpha=0.05, usevar="unequal")
    assert ci == pytest.approx(expected, rel=1e-9)


def test_bootstrap_is_seeded_and_agrees_with_welch_on_large_samples() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(110, 30, 2000), rng.normal(100, 30, 2000)
    first = bootstrap_diff(a, b, 0.05, 1000, seed=3)
    assert first == bootstrap_diff(a, b, 0.05, 1000, seed=3)
    assert first != bootstrap_diff(a, b, 0.05, 1000, seed=4)
    _diff, welch_ci, _p = welch(a, b, 0.05)
    assert first[0] == pytest.approx(welch_ci[0], abs=0.6) and first[1] == pytest.approx(welch_ci[1], abs=0.6)


def test_sample_ratio_mismatch() -> None:
    # 45/55 at n = 10,000 against an intended 50/50: χ² = 2 × 500² / 5000 = 100, p ≈ 1.5e-23
    skewed = sample_ratio([ArmData("A", 4500, 0), ArmData("B", 5500, 0)], None)
    assert skewed["chi2"] == pytest.approx(100.0) and skewed["p_value"] < 1e-20 and skewed["mismatch"]
    assert not sample_ratio([ArmData("A", 4500, 0), ArmData("B", 5500, 0)], {"A": 45, "B": 55})["mismatch"]
    # 49/51 gives χ² = 4, p = 0.0455: unremarkable at the SRM threshold of 0.001
    mild = sample_ratio([ArmData("A", 4900, 0), ArmData("B", 5100, 0)], None)
    assert mild["p_value"] == pytest.approx(0.0455, abs=1e-4) and not mild["mismatch"]
    with pytest.raises(ValidationFailed) as missing:
        sample_ratio([ArmData("A", 1, 0), ArmData("B", 1, 0)], {"A": 1.0})
    assert missing.value.field == "weights"


def test_verdicts() -> None:
    report = analyze([ArmData("A", 1000, 200), ArmData("B", 1000, 250)])
    (conversion,) = report.comparisons
    assert conversion.significant
    assert (
        conversion.verdict_zh == "B 比 A 转化率高 5.0 个百分点 (95% CI 1.3 至 8.7 个百分点, p = 0.007), 显著"
    )
    assert conversion.verdict == (
        "B's conversion rate is 5.0 percentage points higher than A's "
        "(95% CI 1.3 to 8.7 percentage points, p = 0.007): significant."
    )
    assert report.verdict_zh == conversion.verdict_zh
    close = analyze([ArmData("A", 1000, 100), ArmData("B", 1000, 105)])
    assert not close.comparisons[0].significant
    assert close.comparisons[0].verdict.endswith("not enough evidence yet.")
    assert (
        "尚无足够证据" in close.comparisons[0].verdict_zh
        and "+0.5 个百分点" in close.comparisons[0].verdict_zh
    )
    assert close.verdict == "No arm differs significantly from A yet (alpha = 0.05): not enough evidence yet."
    skewed = analyze([ArmData("A", 4500, 450), ArmData("B", 5500, 700)])
    assert skewed.verdict.startswith("Sample ratio mismatch") and skewed.verdict_zh.startswith("样本比例失衡")


def test_revenue_per_customer_and_currency_in_words() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.exponential(5000, 3000), rng.exponential(5600, 3000)  # minor units: ¥50 vs ¥56 per customer
    report = analyze(arms_from_arrays({"A": [0] * 3000, "B": [0] * 3000}, {"A": a, "B": b}), n_boot=500)
    revenue = next(c for c in report.comparisons if c.metric == "revenue")
    assert revenue.difference == pytest.approx(b.mean() - a.mean())
    assert (
        revenue.bootstrap_ci is not None
        and revenue.bootstrap_ci[0] < revenue.difference < revenue.bootstrap_ci[1]
    )
    assert revenue.significant and "人均收入高" in revenue.verdict_zh and " 元 (" in revenue.verdict_zh
    assert " CNY higher than A's" in revenue.verdict


def test_abn_with_holdout_uses_holm_and_reports_uplift() -> None:
    arms = [
        ArmData("A", 2000, 200, silent=400, woken=40),
        ArmData("B", 2000, 260, silent=400, woken=70),
        ArmData("holdout", 2000, 150, silent=400, woken=20),
    ]
    report = analyze(arms, weights={"A": 0.4, "B": 0.4, "holdout": 0.2})
    assert report.control == "A"
    assert report.srm["mismatch"]  # equal arms against a 40/40/20 split
    conversions = {c.arm: c for c in report.comparisons if c.metric == "conversion"}
    assert set(conversions) == {"B", "holdout"}
    raw = [conversions[k].p_value for k in ("B", "holdout")]
    adjusted = [conversions[k].p_adjusted for k in ("B", "holdout")]
    assert all(adj is not None and p is not None and adj >= p for p, adj in zip(raw, adjusted, strict=True))
    # Holm: the smallest p is multiplied by 2 (two comparisons)
    assert min(a for a in adjusted if a is not None) == pytest.approx(
        2 * min(p for p in raw if p is not None)
    )
    uplift = {(c.metric, c.arm): c for c in report.uplift}
    assert uplift[("conversion", "B")].difference == pytest.approx(0.13 - 0.075)
    assert uplift[("conversion", "B")].relative == pytest.approx((0.13 - 0.075) / 0.075)
    assert uplift[("wakeup", "B")].difference == pytest.approx(70 / 400 - 20 / 400)
    assert "唤醒率" in uplift[("wakeup", "B")].verdict_zh


def test_rows_equal_arrays() -> None:
    rows = [("A", True, 100.0), ("A", False, None), ("B", True, 50.0), ("B", True, 30.0), ("B", False, 0.0)]
    from_rows = arms_from_rows(rows)
    assert [(a.name, a.n, a.conversions) for a in from_rows] == [("A", 2, 1), ("B", 3, 2)]
    assert from_rows[0].revenue is not None and list(from_rows[0].revenue) == [100.0, 0.0]


def test_bad_inputs_name_the_field() -> None:
    for arms, kwargs, field in (
        ([ArmData("A", 10, 1)], {}, "arms"),
        ([ArmData("A", 10, 1), ArmData("A", 10, 2)], {}, "arms"),
        ([ArmData("A", 10, 1), ArmData("B", 10, 2)], {"control": "C"}, "control"),
        ([ArmData("A", 10, 1), ArmData("B", 10, 2)], {"alpha": 0.7}, "alpha"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            analyze(arms, **kwargs)  # type: ignore[arg-type]
        assert bad.value.field == field
    with pytest.raises(ValidationFailed):
        ArmData("A", 10, 11)
