"""`siyu bench …`: parse options, show progress on stderr, print the figures (JSON on stdout)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

bench_app = typer.Typer(help="Benchmarks against a real server process.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(143)  # unwinds through the benchmark's clean-up like Ctrl-C does


@bench_app.command("ingest")
def ingest(
    events: int = typer.Option(..., "--events", min=1, help="Messages to send"),
    customers: int = typer.Option(200_000, "--customers", min=1, help="Distinct users they spread over"),
    batch: int = typer.Option(100, "--batch", min=1, help="Messages per /v1/batch request"),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Concurrent keep-alive connections"),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (SQLite: one writer)"),
    database_url: str = typer.Option(None, "--database-url", help="Use this database (default: temp SQLite)"),
    postgres: bool = typer.Option(False, "--postgres", help="Start a throwaway PostgreSQL and use it"),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated traffic"),
    server_log: Path = typer.Option(None, "--server-log", help="Keep a copy of the server's output here"),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout"),
) -> None:
    """Ingestion throughput and latency over HTTP (`POST /v1/batch`) against a real `siyu serve`."""
    from siyu.bench.ingest import IngestOptions, run

    if database_url and postgres:
        raise typer.BadParameter("use either --database-url or --postgres", param_hint="--postgres")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = IngestOptions(
        events, customers, batch, concurrency, workers, database_url, postgres, seed, server_log
    )
    with _bar(events) as show:
        figures = run(options, show)
    if as_json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table(figures)
    if figures["errors"] or figures["stored_events"] != figures["accepted"]:
        raise typer.Exit(code=1)


@contextmanager
def _bar(total: int) -> Iterator[Callable[[str, int], None]]:
    """A progress bar on stderr; yields `show(phase, done)`."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=total)

        def show(phase: str, done: int) -> None:
            bar.update(task, description=phase, completed=done)

        yield show


def _print_table(figures: dict[str, Any], title: str = "siyu bench ingest") -> None:
    table = Table(title=title, show_header=False)
    for key, value in figures.items():
        table.add_row(key, str(value))
    Console().print(table)


@bench_app.command("write-path")
def write_path(
    events: int = typer.Option(..., "--events", min=1, help="Messages to write"),
    customers: int = typer.Option(200_000, "--customers", min=1, help="Distinct users they spread over"),
    group: int = typer.Option(10, "--group", min=1, help="Batches of 100 messages per group commit"),
    database_url: str = typer.Option(None, "--database-url", help="Use this database (default: temp SQLite)"),
    postgres: bool = typer.Option(False, "--postgres", help="Start a throwaway PostgreSQL and use it"),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated traffic"),
    wal_pages: bool = typer.Option(
        False, "--wal-pages", help="SQLite: WAL frames per event by table/index (CPU figures not comparable)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout"),
) -> None:
    """The ingestion write path alone, in one process: CPU per event in siyu and in the database."""
    from siyu.bench.writepath import WritePathOptions, run

    if database_url and postgres:
        raise typer.BadParameter("use either --database-url or --postgres", param_hint="--postgres")
    if wal_pages and (postgres or (database_url and not database_url.startswith("sqlite"))):
        raise typer.BadParameter("counts SQLite WAL frames; not with PostgreSQL", param_hint="--wal-pages")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = WritePathOptions(
        events,
        customers,
        group=group,
        database_url=database_url,
        postgres=postgres,
        seed=seed,
        wal_pages=wal_pages,
    )
    with _bar(events) as show:
        figures = run(options, show)
    if as_json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table(figures, "siyu bench write-path")
    if figures["errors"] or figures["written"] != events:
        raise typer.Exit(code=1)


@bench_app.command("segments")
def segments(
    customers: int = typer.Option(1_000_000, "--customers", min=1, help="Customers to generate"),
    events: int = typer.Option(10_000_000, "--events", min=1, help="Events to generate (over ~365 days)"),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated brand"),
    database_url: str = typer.Option(None, "--database-url", help="Use this database (loaded if empty)"),
    postgres: bool = typer.Option(False, "--postgres", help="Use a throwaway PostgreSQL (default: SQLite)"),
    keep: Path = typer.Option(None, "--keep", help="Keep the database in this folder; reused next time"),
    samples: int = typer.Option(200, "--samples", min=0, help="Timed incremental events (0: skip)"),
    previews: int = typer.Option(5, "--previews", min=1, help="Previews of each definition"),
    server_log: Path = typer.Option(None, "--server-log", help="Keep a copy of the server's output here"),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout"),
) -> None:
    """Segments, RFM and lifecycle at scale: bulk-generated brand, full rebuilds, incremental over HTTP."""
    from siyu.bench.segments import SegmentsOptions, run

    if database_url and (postgres or keep):
        raise typer.BadParameter("--database-url excludes --postgres and --keep", param_hint="--database-url")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = SegmentsOptions(
        customers, events, seed, database_url, postgres, keep, samples, previews, server_log=server_log
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=1)

        def show(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=max(total, 1))

        figures = run(options, show)
    if as_json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table(figures)


@bench_app.command("models")
def models(
    customers: int = typer.Option(1_000_000, "--customers", min=100, help="Simulated customers per model"),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulation"),
    cdnow: Path = typer.Option(
        Path("../shared/data/cdnow/CDNOW_sample.txt"), "--cdnow", help="CDNOW sample for the real-data fits"
    ),
    lifetimes: bool = typer.Option(
        True, "--lifetimes/--no-lifetimes", help="Time lifetimes on the same data"
    ),
    lifetimes_customers: int = typer.Option(
        0, "--lifetimes-customers", min=0, help="Simulated customers lifetimes fits (0: all)"
    ),
    venv: Path = typer.Option(
        Path("var/bench-venv"), "--venv", help="lifetimes' own virtualenv (made if missing)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout"),
) -> None:
    """BG/NBD, Pareto/NBD, Gamma-Gamma: fit time, memory, scoring throughput; lifetimes side by side."""
    from siyu.bench.models import ModelsOptions, run

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = ModelsOptions(
        customers=customers,
        seed=seed,
        cdnow=cdnow if cdnow.is_file() else None,
        lifetimes=lifetimes,
        lifetimes_customers=lifetimes_customers or None,
        venv=venv,
    )
    console = Console(stderr=True)
    if not cdnow.is_file():
        console.print(f"[yellow]no CDNOW sample at {cdnow}: skipping the real-data fits[/yellow]")
    with console.status("starting") as status:
        figures = run(options, lambda phase: status.update(phase))
    if as_json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table({k: v for k, v in figures.items() if not isinstance(v, dict)})


@bench_app.command("dispatch")
def dispatch(
    customers: int = typer.Option(200_000, "--customers", min=1, help="Customers, one message each"),
    workers: int = typer.Option(1, "--workers", min=1, help="`siyu worker` processes (SQLite uses one)"),
    database_url: str = typer.Option(None, "--database-url", help="Use this empty database"),
    postgres: bool = typer.Option(False, "--postgres", help="Start a throwaway PostgreSQL and use it"),
    timeout: float = typer.Option(3600.0, "--timeout", min=10, help="Give up after this many seconds"),
    wait_minutes: int = typer.Option(1, "--wait-minutes", min=0, help="Wait after the send (0: no timers)"),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout"),
) -> None:
    """Journey sends through the governor and the webhook channel into a local sink, with N workers."""
    from siyu.bench.dispatch import DispatchOptions, run

    if database_url and postgres:
        raise typer.BadParameter("use either --database-url or --postgres", param_hint="--postgres")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = DispatchOptions(customers, workers, database_url, postgres, timeout, wait_minutes)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=customers)

        def show(phase: str, done: int) -> None:
            bar.update(task, description=phase, completed=done)

        figures = run(options, show)
    if as_json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table({k: v for k, v in figures.items() if not isinstance(v, dict)})
    if figures["duplicates"] or figures["messages"] != customers:
        raise typer.Exit(code=1)
