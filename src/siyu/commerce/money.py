"""Money as integers in the currency's minor unit (分 for CNY). Parsing goes through Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from siyu.core.errors import ValidationFailed

# ISO 4217 exponents that are not 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def check_currency(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ValidationFailed(f"{field} must be a 3-letter ISO 4217 code", field=field)
    return value.strip().upper()


def to_decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationFailed(f"{field} must be a number", field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValidationFailed(f"{field} must be a number, got {value!r}", field=field) from exc
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be finite", field=field)
    return amount


def to_minor(value: object, currency: str, field: str) -> int:
    """`19.99` CNY → 1999; rounds half-even to the minor unit."""
    amount = to_decimal(value, field)
    if abs(amount) >= Decimal(10) ** 13:
        raise ValidationFailed(f"{field} is out of range", field=field)
    scaled = (amount * (Decimal(10) ** exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if abs(scaled) > 10**15:
        raise ValidationFailed(f"{field} is out of range", field=field)
    return int(scaled)


def from_minor(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))
