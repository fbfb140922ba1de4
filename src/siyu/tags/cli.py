"""`siyu tags import FILE --tag GROUP/NAME [--remove]` and `siyu tags list`: thin commands over the bulk
and catalog modules. Exit codes: 0 when the file was processed (even with rejected lines), 2 otherwise.
"""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core.errors import NotFound, SiyuError

tags_app = typer.Typer(help="Tags: bulk tag/untag from a file, list the taxonomy.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tags_app, name="tags")


def find_tag(session: Session, spec: str) -> int:
    """A tag id from `GROUP/NAME` (either may contain '/': every split is tried) or a numeric id."""
    from siyu.tags.tables import Tag, TagGroup

    if spec.strip().isdecimal():
        return int(spec)
    for at in (i for i, ch in enumerate(spec) if ch == "/"):
        group, name = spec[:at].strip(), spec[at + 1 :].strip()
        found = session.scalar(
            select(Tag.id)
            .join(TagGroup, TagGroup.id == Tag.group_id)
            .where(TagGroup.name == group, Tag.name == name)
        )
        if found is not None:
            return int(found)
    raise NotFound(f"no tag {spec!r}: write it GROUP/NAME (see `siyu tags list`) or give its id", field="tag")


@tags_app.command("import", no_args_is_help=True)
def import_file(
    file: Path = typer.Argument(
        ..., help="CSV (first column) or text file: one customer id or TYPE:VALUE a line"
    ),
    tag: str = typer.Option(..., "--tag", help="GROUP/NAME of the tag, or its id"),
    remove: bool = typer.Option(False, "--remove", help="Untag the listed customers instead"),
    reason: str | None = typer.Option(None, "--reason", help="Recorded in the tag history"),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Rejected lines report (default FILE.rejects.csv)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout"),
) -> None:
    """Tag (or untag) every customer listed in FILE; unknown ids and identities are reported by line."""
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work, write_lock
    from siyu.core.pii import get_vault
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade
    from siyu.tags import bulk

    console = Console(stderr=True)
    try:
        entries = bulk.parse_lines(file.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]error[/red]: cannot read {escape(str(file))}: {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    upgrade(get_settings().database_url)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with unit_of_work() as session, write_lock(session), Progress(*columns, console=console) as bar:
            task = bar.add_task("customers", total=len(entries))
            add, gone = ([], entries) if remove else (entries, [])
            result = bulk.apply_entries(
                session,
                get_vault(),
                find_tag(session, tag),
                add=add,
                remove=gone,
                actor=f"import:{file.name}"[:100],
                reason=reason,
                at=now(),
                progress=lambda n: bar.advance(task, n),
            )
            bar.update(task, completed=len(entries))
    except SiyuError as exc:
        console.print(f"[red]error[/red]: {escape(exc.message)}")
        raise typer.Exit(code=2) from exc
    report = rejects or file.with_name(file.name + ".rejects.csv")
    if result.rejected:
        with report.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["line", "value", "reason"])
            writer.writerows([r.line, r.value, r.reason] for r in result.rejected)
    summary = {
        "file": str(file),
        "lines": len(entries),
        "added": result.added,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "displaced": result.displaced,
        "redirected": result.redirected,
        "rejected": len(result.rejected),
        "rejects_report": str(report) if result.rejected else None,
    }
    if as_json:
        print(orjson.dumps(summary).decode())
        return
    print(
        f"{file.name}: {len(entries)} entries; added {result.added}, removed {result.removed}, "
        f"unchanged {result.unchanged}, rejected {len(result.rejected)}"
    )
    if result.rejected:
        print(f"rejected lines: {report}")


@tags_app.command("list")
def list_tags(
    archived: bool = typer.Option(False, "--archived", help="Include archived tags"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout"),
) -> None:
    """Every tag with its group, category, kind and member count."""
    from siyu.core.database import unit_of_work
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade
    from siyu.tags import catalog

    upgrade(get_settings().database_url)
    with unit_of_work() as session:
        tags = catalog.list_tags(session, archived=archived)
    if as_json:
        print(orjson.dumps([t.model_dump(mode="json") for t in tags]).decode())
        return
    table = Table("id", "group", "tag", "category", "kind", "members")
    for t in tags:
        table.add_row(str(t.id), t.group, t.name, t.category, t.kind, str(t.members))
    Console().print(table)
