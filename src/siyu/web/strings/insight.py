"""Console strings of the insight page: KPI tiles, RFM and lifecycle distributions, retention cohorts and
health alerts."""

from __future__ import annotations

ZH: dict[str, str] = {
    "insight_title": "洞察",
    "insight_period": "{first} 至 {last}（{days} 天，品牌时区）",
    "insight_presets": "常用时间段",
    "insight_last_days": "近 {n} 天",
    "insight_from": "从",
    "insight_to": "到",
    "insight_apply": "查看",
    "insight_kpis": "核心指标",
    "insight_kpi_note": "口径见 docs/metrics.md：订单按完成日计入，全额退款的订单不计；金额为实付减退款。",
    "kpi_new_customers": "新增客户",
    "kpi_active_customers": "活跃客户",
    "kpi_repurchase_rate": "复购率",
    "kpi_aov": "客单价",
    "kpi_gmv": "成交额 GMV",
    "kpi_ltv_cac": "LTV/CAC",
    "kpi_repurchase_rate_detail": "{numerator} / {denominator} 位购买客户",
    "kpi_aov_detail": "{numerator} ÷ {denominator} 单",
    "kpi_ltv_cac_detail": "客户消费 {numerator} ÷ 获客投入 {denominator}",
    "insight_rfm": "RFM 价值分层分布",
    "insight_rfm_note": "{n} 位客户有 RFM 分数；最近一次全量计算：{when}。",
    "insight_rfm_none": "还没有 RFM 分数（可运行 siyu rfm recompute）。",
    "insight_lifecycle": "生命周期分布",
    "insight_lifecycle_note": "{n} 位客户有生命周期阶段；最近一次扫描：{when}。",
    "insight_lifecycle_none": "还没有计算生命周期阶段。",
    "insight_cohorts": "留存（按首单分组）",
    "insight_cohort_unit": "分组粒度",
    "insight_by_month": "按月",
    "insight_by_week": "按周",
    "insight_cohorts_note": (
        "每行是同一期首次下单的客户；第 k 期的比例是其中在该期再次下单的客户占比（第 0 期为首单当期）。"
    ),
    "insight_cohort": "首单期",
    "insight_cohort_size": "人数",
    "insight_k": "第 {k} 期",
    "insight_cohorts_none": "这段时间没有首单客户。",
    "insight_alerts": "未处理的健康度告警",
    "insight_alerts_none": "没有未处理的告警。",
    "insight_raised": "{when} 触发",
    "insight_alert_current": "本期",
    "insight_alert_previous": "上期",
    "insight_alert_threshold": "阈值",
}


EN: dict[str, str] = {
    "insight_title": "Insight",
    "insight_period": "{first} to {last} ({days} days, brand time zone)",
    "insight_presets": "Common periods",
    "insight_last_days": "Last {n} days",
    "insight_from": "From",
    "insight_to": "To",
    "insight_apply": "Show",
    "insight_kpis": "Key metrics",
    "insight_kpi_note": (
        "Definitions in docs/metrics.md: orders count on the day they completed, fully refunded orders "
        "do not count; money is paid minus refunded."
    ),
    "kpi_new_customers": "New customers",
    "kpi_active_customers": "Active customers",
    "kpi_repurchase_rate": "Repurchase rate",
    "kpi_aov": "Average order value",
    "kpi_gmv": "GMV",
    "kpi_ltv_cac": "LTV/CAC",
    "kpi_repurchase_rate_detail": "{numerator} of {denominator} buyers",
    "kpi_aov_detail": "{numerator} ÷ {denominator} orders",
    "kpi_ltv_cac_detail": "spend {numerator} ÷ acquisition {denominator}",
    "insight_rfm": "RFM tiers",
    "insight_rfm_note": "{n} customers have an RFM score; last full run: {when}.",
    "insight_rfm_none": "No RFM scores yet (run siyu rfm recompute).",
    "insight_lifecycle": "Lifecycle stages",
    "insight_lifecycle_note": "{n} customers have a lifecycle stage; last sweep: {when}.",
    "insight_lifecycle_none": "No lifecycle stages computed yet.",
    "insight_cohorts": "Retention (by first order)",
    "insight_cohort_unit": "Cohort size",
    "insight_by_month": "Monthly",
    "insight_by_week": "Weekly",
    "insight_cohorts_note": (
        "Each row is the customers whose first order fell in that period; column k is the share who "
        "ordered in the k-th period after (0 = the first order's own period)."
    ),
    "insight_cohort": "Cohort",
    "insight_cohort_size": "Customers",
    "insight_k": "{k}",
    "insight_cohorts_none": "No first orders in this time.",
    "insight_alerts": "Open health alerts",
    "insight_alerts_none": "No open alerts.",
    "insight_raised": "raised {when}",
    "insight_alert_current": "this period",
    "insight_alert_previous": "previous",
    "insight_alert_threshold": "threshold",
}
