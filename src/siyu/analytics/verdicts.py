"""Plain-language verdicts of experiment comparisons, in English and Simplified Chinese, e.g.
"B 比 A 转化率高 2.1 个百分点 (95% CI 0.8 至 3.4 个百分点, p = 0.002), 显著" / "… not enough evidence yet"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from siyu.commerce.money import exponent

if TYPE_CHECKING:
    from siyu.analytics.experiments import Comparison

LABELS = {
    "conversion": ("conversion rate", "转化率"),
    "revenue": ("revenue per customer", "人均收入"),
    "wakeup": ("wake-up rate", "沉默客户唤醒率"),
}


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _amount(value: float, metric: str, currency: str) -> tuple[str, str, str]:
    """(number, English unit, Chinese unit) of a difference or CI bound."""
    if metric == "revenue":
        digits = exponent(currency)
        number = f"{value / 10**digits:.{digits}f}"
        return number, f" {currency}", " 元" if currency == "CNY" else f" {currency}"
    return f"{value * 100:.1f}", " percentage points", " 个百分点"


def comparison(c: Comparison, alpha: float, currency: str) -> tuple[str, str]:
    label, label_zh = LABELS[c.metric]
    if c.difference is None or c.ci is None or c.p_value is None:
        return (
            f"{c.arm} vs {c.baseline}: not enough data yet to compare {label}.",
            f"{c.arm} 与 {c.baseline} 的{label_zh}：数据不足，暂无法比较。",
        )
    level = round((1 - alpha) * 100)
    size, unit, unit_zh = _amount(abs(c.difference), c.metric, currency)
    low, _, _ = _amount(c.ci[0], c.metric, currency)
    high, _, _ = _amount(c.ci[1], c.metric, currency)
    p = p_text(c.p_adjusted if c.p_adjusted is not None else c.p_value)
    ci_en = f"{level}% CI {low} to {high}{unit}, {p}"
    ci_zh = f"{level}% CI {low} 至 {high}{unit_zh}, {p}"
    if c.significant:
        more, more_zh = ("higher", "高") if c.difference > 0 else ("lower", "低")
        return (
            f"{c.arm}'s {label} is {size}{unit} {more} than {c.baseline}'s ({ci_en}): significant.",
            f"{c.arm} 比 {c.baseline} {label_zh}{more_zh} {size}{unit_zh} ({ci_zh}), 显著",
        )
    signed = ("+" if c.difference >= 0 else "-") + size
    return (
        f"{c.arm} vs {c.baseline}: {label} {signed}{unit} ({ci_en}): not enough evidence yet.",
        f"{c.arm} 与 {c.baseline} 的{label_zh}相差 {signed}{unit_zh} ({ci_zh}), 尚无足够证据",
    )


def overall(comparisons: Sequence[Comparison], srm: dict[str, Any], alpha: float) -> tuple[str, str]:
    if srm.get("mismatch"):
        observed = ", ".join(f"{k}={v}" for k, v in srm["observed"].items())
        p = p_text(float(srm["p_value"]))
        return (
            f"Sample ratio mismatch: arm sizes ({observed}) differ from the intended split (chi-square {p}); "
            "fix the assignment before trusting any result.",
            f"样本比例失衡 (SRM): 各组人数 ({observed}) 与设定的分流比例不符 (卡方检验 {p}), "
            "请先排查分流, 再看结果",
        )
    winners = [c for c in comparisons if c.significant]
    if winners:
        return " ".join(c.verdict for c in winners), "; ".join(c.verdict_zh for c in winners)
    baseline = comparisons[0].baseline if comparisons else "the control"
    return (
        f"No arm differs significantly from {baseline} yet (alpha = {alpha:g}): not enough evidence yet.",
        f"尚无组别与 {baseline} 有显著差异 (α = {alpha:g}), 尚无足够证据",
    )
