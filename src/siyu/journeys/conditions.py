"""Condition-branch trees are written in the segment condition language (`siyu.segments.schemas`).

A journey stores the tree as plain JSON and validates it with that module's `parse_condition` (or its
`Condition` model) when the module exists; without it only the shape (an object with a `type`) is
checked. Evaluation needs a customer's data, so the runner injects it into the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter, ValidationError

from siyu.core.errors import ValidationFailed

SEGMENT_SCHEMAS = "siyu.segments.schemas"


class ConditionError(ValueError):
    """An invalid condition tree; `field` is the path inside it (e.g. `children.0.tag_id`), if known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@lru_cache(maxsize=1)
def _segment_schemas() -> ModuleType | None:
    try:
        return importlib.import_module(SEGMENT_SCHEMAS)
    except ModuleNotFoundError as exc:
        if exc.name != SEGMENT_SCHEMAS:
            raise
        return None


@lru_cache(maxsize=1)
def _validator() -> Callable[[dict[str, Any]], None] | None:
    module = _segment_schemas()
    if module is None:
        return None
    parse = getattr(module, "parse_condition", None)
    if callable(parse):

        def with_parse(value: dict[str, Any]) -> None:
            try:
                parse(value, field="")
            except ValidationFailed as exc:
                inner = exc.field or None
                message = exc.message.removeprefix(f"{inner}: ") if inner else exc.message
                raise ConditionError(message, inner) from None

        return with_parse
    model = getattr(module, "Condition", None)
    if model is None:
        return None
    adapter: TypeAdapter[Any] = TypeAdapter(model)

    def with_model(value: dict[str, Any]) -> None:
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConditionError(str(first["msg"]).removeprefix("Value error, ")) from None

    return with_model


def check_condition(value: dict[str, Any]) -> dict[str, Any]:
    """`value` unchanged if it is a valid condition tree; ValueError (naming the inner path) otherwise."""
    if not isinstance(value.get("type"), str):
        raise ConditionError("a condition is a JSON object with a `type`")
    validate = _validator()
    if validate is not None:
        validate(value)
    return value
