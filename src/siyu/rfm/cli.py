"""`siyu rfm recompute [--json]`: score every customer now and print the tier distribution."""

from __future__ import annotations

import sys

import orjson
import typer
from rich.console import Console
from rich.table import Table

rfm_app = typer.Typer(help="RFM value tiers (recency, frequency, monetary).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rfm_app, name="rfm")


@rfm_app.command("recompute")
def recompute(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout"),
) -> None:
    """Recompute RFM scores, tiers and value tags of every customer (a full run)."""
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work
    from siyu.core.errors import SiyuError
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade
    from siyu.rfm import service
    from siyu.rfm.schemas import RfmPublic

    console = Console(stderr=True)
    upgrade(get_settings().database_url)
    try:
        with (
            console.status("RFM: reading orders, scoring, writing scores and value tags"),
            unit_of_work() as s,
        ):
            service.recompute_all(s, now())
            result = RfmPublic.model_validate(service.summary(s))
    except SiyuError as exc:
        console.print(f"[red]error[/red]: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""))
        raise typer.Exit(code=2) from exc
    if as_json:
        sys.stdout.write(
            orjson.dumps(result.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    assert result.run is not None
    table = Table(
        title=f"RFM run {result.run.id}: {result.run.customers:,} customers in {result.run.seconds} s"
    )
    for column in ("tier", "层级", "customers", "share"):
        table.add_column(column, justify="right" if column in ("customers", "share") else "left")
    for t in result.tiers:
        table.add_row(t.tier, t.label, f"{t.customers:,}", f"{t.share:.1%}")
    Console().print(table)
