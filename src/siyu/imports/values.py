"""Cell values → message values: text, brand-time-zone timestamps, exact money, JSON objects.

Nothing here guesses a type from text: a cell that looks like a number stays text unless the field is
money, a quantity or a time, and money is kept as a Decimal string so no float ever touches it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from siyu.core.errors import ValidationFailed

_LOCAL = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?$"
)
_GROUPED = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_INT64 = 2**63
MONEY_KEYS = frozenset({"total", "revenue", "subtotal", "discount", "shipping", "tax", "price", "value"})


def text(value: Any, column: str = "value") -> str | None:
    """A cell as trimmed text; None for empty cells. JSON objects and lists are refused."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValidationFailed(f"{column} must be a single value, not a JSON object or list", field=column)
    if isinstance(value, bool):
        return "true" if value else "false"
    out = str(value).strip()
    return out or None


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def plain(value: Any, key: str = "") -> Any:
    """A raw cell as a JSON-safe trait/property value (Decimal: string for money keys, else float)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Decimal):
        return str(value) if key.lower() in MONEY_KEYS else float(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, key) for v in value]
    return str(value)


def parse_when(value: Any, zone: tzinfo, column: str) -> datetime:
    """ISO-8601 or `YYYY-MM-DD[ HH:MM[:SS]]` (also with / or .); naive times are in the brand zone."""
    raw = text(value, column)
    if raw is None:
        raise ValidationFailed(f"{column} is empty", field=column)
    local = _LOCAL.match(raw)
    try:
        if local:
            y, mo, d, h, mi, s, frac = local.groups()
            micro = int((frac or "0")[:6].ljust(6, "0"))
            parsed = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)  # noqa: DTZ001 (zone applied below)
        else:
            parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{column} is not a date-time (use ISO-8601 or YYYY-MM-DD HH:MM:SS): {raw[:40]!r}", field=column
        ) from exc
    if not 1900 <= parsed.year <= 2200:
        raise ValidationFailed(f"{column} year {parsed.year} is out of range", field=column)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Any, column: str) -> str:
    """An amount as an exact decimal string: `¥1,299.00` → `1299.00`. Raises ValidationFailed."""
    raw = text(value, column)
    if raw is None:
        raise ValidationFailed(f"{column} is empty", field=column)
    cleaned = raw.lstrip("¥￥").strip()
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValidationFailed(f"{column} must be a number, got {raw[:40]!r}", field=column) from exc
    if not amount.is_finite():
        raise ValidationFailed(f"{column} must be a finite number", field=column)
    return cleaned


def quantity(value: Any, column: str) -> str:
    """A whole number ≥ 0 as text (`2`, `2.0`); raises ValidationFailed."""
    amount = Decimal(money(value, column))
    if amount < 0 or amount != amount.to_integral_value():
        raise ValidationFailed(
            f"{column} must be a whole number ≥ 0, got {text(value, column)!r}", field=column
        )
    return str(int(amount))


def json_object(value: Any, column: str) -> dict[str, Any]:
    """A JSON object cell (already an object in JSONL, JSON text elsewhere); raises ValidationFailed."""
    if is_empty(value):
        return {}
    if isinstance(value, dict):
        return {str(k): plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, str):
        try:
            parsed = json.loads(value, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"{column} is not valid JSON: {exc.msg}", field=column) from exc
        if isinstance(parsed, dict):
            return {str(k): plain(v, str(k)) for k, v in parsed.items()}
    raise ValidationFailed(f"{column} must be a JSON object", field=column)
