"""`siyu import customers|orders|events FILE`: parse options, show progress, print the summary.

Exit codes: 0 when the file was processed (even with rejected rows), 2 when it cannot be imported.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siyu.core.errors import SiyuError
from siyu.imports.records import Kind, UnusableInput

HELP = (
    "Import customers, orders or events from a .csv, .xlsx, .jsonl/.ndjson or .parquet file.\n\n"
    "Columns are matched by name (see docs/imports.md); --map TARGET=COLUMN overrides a match. "
    "Re-running the same file changes nothing. Rejected rows go to a CSV report (row, field, reason); "
    "exit code 0 when the file was processed, 2 when it cannot be imported."
)


def register(app: typer.Typer) -> None:
    app.command("import", help=HELP, no_args_is_help=True)(import_file)


def import_file(
    kind: Kind = typer.Argument(..., help="What the file holds: customers, orders or events"),
    file: Path = typer.Argument(..., help="The file: .csv, .xlsx, .jsonl, .ndjson or .parquet"),
    maps: list[str] = typer.Option([], "--map", help="TARGET=COLUMN, e.g. phone=联系手机 (repeatable)"),
    skip: list[str] = typer.Option([], "--skip", help="Ignore this column (repeatable)"),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where to write rejected rows (default: FILE.rejects.csv)"
    ),
    source: str | None = typer.Option(
        None, "--source", help="Import under this source (default: import:KIND)"
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="Excel sheet name (default: the first)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate everything, write nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout"),
) -> None:
    from siyu.core.pii import get_vault
    from siyu.core.settings import get_settings
    from siyu.imports import service
    from siyu.migrations import upgrade

    console = Console(stderr=True)
    settings, vault = get_settings(), get_vault()
    try:
        prepared = service.prepare(kind, file, settings, vault, maps=maps, skip=skip, sheet=sheet)
    except UnusableInput as exc:
        console.print(f"[red]error[/red]: {escape(exc.message)}")
        raise typer.Exit(code=2) from exc
    plan = escape("; ".join(prepared.plan.describe()))
    console.print(f"[bold]{escape(file.name)}[/bold] → {kind.value}: {plan}")
    upgrade(settings.database_url)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("rows", total=prepared.read)
        try:
            summary = service.execute(
                prepared,
                settings,
                vault,
                source=source,
                dry_run=dry_run,
                progress=lambda n: bar.advance(task, n),
            )
        except SiyuError as exc:  # e.g. a disabled or badly named --source
            console.print(f"[red]error[/red]: {escape(exc.message)}")
            raise typer.Exit(code=2) from exc
    report_path = rejects or service.default_rejects_path(file)
    if summary.rejects:
        service.write_rejects(report_path, summary.rejects)
    elif rejects is None and report_path.exists():
        report_path.unlink()  # a stale report from an earlier run of this file would mislead
    result = summary.as_dict() | {"rejects_report": str(report_path) if summary.rejects else None}
    if as_json:
        print(orjson.dumps(result).decode())
        return
    verb = "would import" if dry_run else "imported"
    print(
        f"{file.name}: read {summary.read} rows; {verb} {summary.imported}; "
        f"unchanged (already imported) {summary.duplicates}; rejected {summary.rejected}"
    )
    if summary.rejects:
        print(f"rejected rows: {report_path}")
