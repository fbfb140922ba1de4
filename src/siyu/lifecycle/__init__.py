"""Lifecycle stages: 潜客 → 新客 → 老客 → 沉睡 → 流失, and 回流 when a dormant customer returns."""
