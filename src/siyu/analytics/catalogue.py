"""The catalogue of metrics: importing it registers every metric module's definitions."""

from __future__ import annotations

from siyu.analytics import acquisition, activity, conversion, messages, sales, surveys
from siyu.analytics.definitions import REGISTRY, Definition
from siyu.core.errors import NotFound

MODULES = (activity, sales, acquisition, messages, conversion, surveys)  # each registers its metrics


def definitions() -> list[Definition]:
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def definition(name: str) -> Definition:
    found = REGISTRY.get(name)
    if found is None:
        known = ", ".join(sorted(REGISTRY))
        raise NotFound(f"unknown metric {name!r}; known metrics: {known}", field="name")
    return found
