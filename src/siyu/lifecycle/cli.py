"""`siyu lifecycle sweep [--full] [--json]`: move customers whose stage changed because time passed."""

from __future__ import annotations

import sys
import time

import orjson
import typer
from rich.console import Console

lifecycle_app = typer.Typer(help="Lifecycle stages (潜客 新客 老客 沉睡 流失 回流).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(lifecycle_app, name="lifecycle")


@lifecycle_app.command("sweep")
def sweep(
    full: bool = typer.Option(False, "--full", help="Re-decide every customer (after changing thresholds)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout"),
) -> None:
    """Re-decide the customers who crossed a time boundary since the last sweep (the first sweep: all)."""
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work
    from siyu.core.settings import get_settings
    from siyu.lifecycle import service
    from siyu.lifecycle.schemas import SweepPublic
    from siyu.migrations import upgrade

    console = Console(stderr=True)
    upgrade(get_settings().database_url)
    started = time.perf_counter()
    with console.status("lifecycle: finding customers across a time boundary"), unit_of_work() as s:
        changed = service.sweep(s, now(), full=full)
    result = SweepPublic(changed=changed, seconds=round(time.perf_counter() - started, 3))
    if as_json:
        sys.stdout.write(orjson.dumps(result.model_dump()).decode() + "\n")
    else:
        console.print(f"{result.changed:,} stage changes in {result.seconds} s")
