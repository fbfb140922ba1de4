"""Checks shared by the model parameter classes: every parameter a positive, finite number.

Raised as `ValidationFailed` naming the parameter, so a bad value never reaches the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from siyu.core.errors import ValidationFailed


def check_positive(values: Mapping[str, float]) -> None:
    for name, value in values.items():
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ValidationFailed(f"{name} must be a positive number, not {value!r}", field=name)
