"""Console strings (Simplified Chinese by default, English) and the locale-aware formatting of values.

Every word the console shows is a key in `MESSAGES`, gathered from one catalogue per page family in
`siyu.web.strings`; both languages carry the same keys (a test checks).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from siyu.commerce.money import from_minor
from siyu.web.strings import common, conditions, customers, insight, journeys, segments, tags

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

CATALOGUES = (common, customers, tags, segments, conditions, journeys, insight)


def _merged(lang: str) -> dict[str, str]:
    """One language's strings from every page family; a key defined twice is a mistake."""
    out: dict[str, str] = {}
    for module in CATALOGUES:
        strings: dict[str, str] = getattr(module, lang.upper())
        twice = set(out) & set(strings)
        if twice:
            raise ValueError(f"{module.__name__} redefines {sorted(twice)}")
        out.update(strings)
    return out


MESSAGES: dict[str, dict[str, str]] = {lang: _merged(lang) for lang in LANGUAGES}

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"}


def pick_language(*candidates: str | None) -> str:
    """The first candidate that is a supported language, else the default (Simplified Chinese)."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of `key` in `lang`, with `{placeholders}` filled; an unknown key shows itself."""
    text = MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE]).get(key)
    if text is None:
        return key
    return text.format(**values) if values else text


def label(lang: str, prefix: str, name: str) -> str:
    """A label for a stored name (identity type, event type, role), or the name itself if unknown."""
    text = MESSAGES.get(lang, {}).get(f"{prefix}{name}")
    return text if text is not None else name


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_time(value: datetime | None, zone: str) -> str:
    """`2026-01-02 11:04` in the brand's zone; an em dash when there is no value."""
    if value is None:
        return "—"
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M")


def format_money(amount: str | None, currency: str | None) -> str:
    """`¥1,234.50` from the Decimal string the profile gives; an em dash when there is no amount."""
    if amount is None:
        return "—"
    try:
        number = Decimal(amount)
    except InvalidOperation:
        return str(amount)
    code = (currency or "CNY").upper()
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} ")
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{abs(number):,}"


def format_number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def format_minor(amount: int | float | None, currency: str | None) -> str:
    """Money held in minor units (分 for CNY), e.g. a metric value: `¥1,234.50`."""
    if amount is None:
        return "—"
    code = (currency or "CNY").upper()
    return format_money(str(from_minor(round(amount), code)), code)


def format_percent(value: float | None, digits: int = 1) -> str:
    """A share 0..1 as `12.5%`; an em dash when there is no value."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def format_day(value: date | datetime | str | None) -> str:
    """A calendar day `2026-11-01` (a timestamp is shown as its day in UTC: use `when` for instants)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def format_figure(value: Any) -> str:
    """A number behind an alert as read at a glance (4 significant digits); lists item by item."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | list):
        return str(value)
    if isinstance(value, list):
        return " → ".join(format_figure(v) for v in value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


HEAT_STEPS = (0.05, 0.15, 0.3, 0.5, 0.8)


def heat_level(share: float | None) -> int:
    """0-5: how dark a retention cell is (steps suited to small repeat-purchase rates)."""
    return 0 if share is None else sum(share >= step for step in HEAT_STEPS)
