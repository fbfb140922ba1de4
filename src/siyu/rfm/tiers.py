"""The eight RFM value tiers: stored codes (never change) and the Chinese labels operators see."""

from __future__ import annotations

TIERS: dict[str, str] = {
    "important_value": "重要价值",  # R↑ F↑ M↑
    "important_develop": "重要发展",  # R↑ F↓ M↑
    "important_retain": "重要保持",  # R↓ F↑ M↑
    "important_win_back": "重要挽留",  # R↓ F↓ M↑
    "general_value": "一般价值",  # R↑ F↑ M↓
    "general_develop": "一般发展",  # R↑ F↓ M↓
    "general_retain": "一般保持",  # R↓ F↑ M↓
    "general_win_back": "一般挽留",  # R↓ F↓ M↓
}


def tier_label(code: str | None) -> str | None:
    return None if code is None else TIERS[code]
