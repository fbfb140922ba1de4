"""Registers the import, demo and bench commands on the main CLI; each lives in its own package."""

from __future__ import annotations

import importlib

import typer

MODULES = (
    "siyu.imports.cli",
    "siyu.demo.cli",
    "siyu.bench.cli",
    "siyu.segments.cli",
    "siyu.tags.cli",
    "siyu.rfm.cli",
    "siyu.lifecycle.cli",
    "siyu.predict.cli",
    "siyu.journeys.cli",
)


def register(app: typer.Typer) -> None:
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not f"{name}.".startswith(f"{exc.name}."):
                raise  # a missing dependency, not a capability that is not there yet
            continue
        module.register(app)
