"""`siyu segments list` and `siyu segments rebuild [--all | ID]` (full rebuilds with a progress bar;
`--json` prints the result on stdout)."""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

segments_app = typer.Typer(help="Segments: list them, rebuild them in full.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")


def _print_json(value: Any) -> None:
    sys.stdout.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )


@segments_app.command("list")
def list_segments(as_json: bool = typer.Option(False, "--json", help="JSON on stdout")) -> None:
    """Segments with their kind, version, member count and last rebuild."""
    from siyu.core.database import unit_of_work
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade
    from siyu.segments import service

    upgrade(get_settings().database_url)
    with unit_of_work() as s:
        rows = [
            {"id": x.id, "name": x.name, "kind": x.kind, "version": x.version, "members": x.member_count,
             "last_rebuilt_at": x.last_rebuilt_at.isoformat() if x.last_rebuilt_at else None}
            for x in service.list_segments(s)
        ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} segments")
    for column in ("id", "name", "kind", "version", "members", "last_rebuilt_at"):
        table.add_column(column, justify="right" if column in ("id", "version", "members") else "left")
    for r in rows:
        table.add_row(
            *(
                str(r[c] if r[c] is not None else "—")
                for c in ("id", "name", "kind", "version", "members", "last_rebuilt_at")
            )
        )
    Console().print(table)


@segments_app.command("rebuild")
def rebuild(
    segment_id: int | None = typer.Argument(None, help="The segment to rebuild"),
    every: bool = typer.Option(False, "--all", help="Every dynamic segment and rule tag"),
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout"),
) -> None:
    """Recompute segments for every customer now (one transaction each) and write the differences."""
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work, write_lock
    from siyu.core.errors import SiyuError
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade
    from siyu.segments import evaluation, graph

    console = Console(stderr=True)
    if every == (segment_id is not None):
        console.print("[red]error[/red]: give a segment id or --all")
        raise typer.Exit(code=2)
    upgrade(get_settings().database_url)
    with unit_of_work() as s:
        targets = (
            [(t.kind, t.id, t.name) for t in graph.load_targets(s)]
            if every
            else [("segment", segment_id, str(segment_id))]
        )
    results: list[dict[str, Any]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("rebuilding", total=len(targets))
        for kind, ident, name in targets:
            assert ident is not None
            progress.update(task, description=f"{kind} {ident} {name}"[:60])
            started = time.perf_counter()
            try:
                with unit_of_work() as s, write_lock(s):
                    if kind == "segment":
                        d = evaluation.rebuild(s, ident, now(), reason="rebuild (command line)")
                        result = {"entered": d.entered, "exited": d.exited, "members": d.members}
                    else:
                        added, removed = evaluation.rebuild_tag(
                            s, ident, now(), reason="rebuild (command line)"
                        )
                        result = {"entered": added, "exited": removed}
            except SiyuError as exc:
                console.print(
                    f"[red]error[/red]: {exc.message}" + (f" (field: {exc.field})" if exc.field else "")
                )
                raise typer.Exit(code=2) from exc
            results.append(
                {
                    "kind": kind,
                    "id": ident,
                    "name": name,
                    **result,
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
            progress.advance(task)
    if as_json:
        _print_json(results)
        return
    for r in results:
        console.print(f"{r['kind']} {r['id']}: +{r['entered']} −{r['exited']} in {r['seconds']} s")
