"""Insight: KPI metrics (on demand and materialised daily), retention cohorts, health alerts, experiments."""
