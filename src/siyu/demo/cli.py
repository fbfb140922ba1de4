"""`siyu demo`: generate the 澜肌 Lanji brand, load it through the ingestion pipeline with a progress
bar, print what was loaded and an admin token, then serve (unless `--no-serve`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

HELP = (
    "Load the demo skincare brand 澜肌 Lanji (Douyin, Tmall, stores, mini-program, WeCom; about 18 months "
    "of history) into SIYU_DATABASE_URL through the ingestion pipeline, then serve the API and console."
    "\n\n"
    "The history ends on the day the demo was first loaded into this database (or --anchor). The same "
    "--seed and anchor always produce the same customers and messages, so re-running adds nothing."
)


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP)(demo)


def demo(
    customers: int = typer.Option(3000, "--customers", min=0, help="How many customers to generate"),
    seed: int = typer.Option(42, "--seed", help="Seed of the generated brand"),
    no_serve: bool = typer.Option(False, "--no-serve", help="Stop after loading; do not start the server"),
    host: str = typer.Option(None, "--host", help="Bind address (default SIYU_HOST)"),
    port: int = typer.Option(None, "--port", help="Port (default SIYU_PORT)"),
    anchor_day: datetime = typer.Option(
        None, "--anchor", formats=["%Y-%m-%d"], help="End of the history (default: day of the first load)"
    ),
    metrics_days: int = typer.Option(
        1, "--metrics-days", min=0, max=1096, help="Days before today whose daily metrics are stored"
    ),
) -> None:
    from siyu.core.clock import now
    from siyu.core.database import unit_of_work
    from siyu.core.settings import get_settings
    from siyu.demo import generator, loader, operations, overview, summary
    from siyu.migrations import upgrade

    settings = get_settings()
    out, err = Console(), Console(stderr=True)
    started = time.monotonic()
    upgrade(settings.database_url)
    with unit_of_work() as session:
        sources = loader.ensure_sources(session)
    anchor = anchor_day.replace(tzinfo=UTC) if anchor_day else sources.anchor
    with err.status(f"generating {customers} customers (seed {seed}, history to {anchor:%Y-%m-%d})"):
        population = list(generator.customers(customers, seed, anchor))
        stream = generator.stream_of(population)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("messages", total=len(stream))
        report = loader.load(stream, sources.ids, on_batch=lambda n: bar.advance(task, n))
    first_day, last_day = generator.history_days(anchor)
    history = operations.History(population, seed, first_day, last_day, anchor)
    with err.status("operating the brand") as status:
        ops = operations.run(
            history,
            now(),
            metrics_days=metrics_days,
            on_step=lambda name: status.update(f"operating: {name}"),
        )
    with unit_of_work() as session:
        figures = summary.summarise(session)
        operated = overview.overview(session)
        token_name, token = summary.create_demo_token(session)
    elapsed = time.monotonic() - started
    _print_summary(out, report, figures, operated, elapsed)
    for problem in ops.problems:
        err.print(f"[yellow]note:[/yellow] {problem}")
    base = f"http://{host or settings.host}:{port or settings.port}"
    out.print(f"\nadmin API token ([bold]{token_name}[/bold], shown once):\n{token}\n", soft_wrap=True)
    out.print(f"console  {base}/")
    out.print(f"API docs {base}/docs")
    example = summary.showcase(stream)
    query = f"identity=member_id:{example}" if example else "limit=5"
    out.print(
        f'try      curl -H "Authorization: Bearer {token}" "{base}/api/v1/customers?{query}"', soft_wrap=True
    )
    out.print(f'         curl -H "Authorization: Bearer {token}" "{base}/api/v1/segments"', soft_wrap=True)
    if report.errors:
        err.print(f"[red]{len(report.errors)} messages were rejected[/red], e.g. {report.errors[0]}")
        raise typer.Exit(code=1)
    if no_serve:
        return
    from siyu.cli.main import serve

    serve(host=host, port=port, workers=1)


def _print_summary(out: Console, report: object, figures: object, operated: object, elapsed: float) -> None:
    from siyu.demo.loader import LoadReport
    from siyu.demo.overview import Overview, joined
    from siyu.demo.summary import Summary

    assert isinstance(report, LoadReport) and isinstance(figures, Summary) and isinstance(operated, Overview)
    table = Table(title="澜肌 Lanji demo", show_header=False)
    table.add_row("messages sent", f"{report.sent:,} in {report.batches:,} batches")
    table.add_row("new / already loaded", f"{report.accepted:,} / {report.duplicates:,}")
    table.add_row("customers", f"{figures.customers:,} ({figures.merges:,} merges)")
    table.add_row("events", f"{figures.events:,}")
    table.add_row("orders", f"{figures.orders:,} ({figures.refunded_orders:,} refunded)")
    table.add_row("GMV", f"¥{figures.gmv:,.2f} (net of refunds ¥{figures.net_sales:,.2f})", end_section=True)
    o = operated
    table.add_row("staff", f"{joined(o.staff)}; {o.owned:,} customers owned")
    table.add_row("consents", joined(o.consents))
    count = sum(n for _kind, n in o.tags)
    table.add_row("tags", f"{count} in {o.tag_groups} groups ({joined(o.tags)}); {o.tagged:,} on customers")
    table.add_row("RFM tiers", joined(o.rfm))
    table.add_row("lifecycle", joined(o.lifecycle))
    table.add_row("predictions", "none" if o.predictions is None else joined(o.predictions))
    table.add_row("segments", joined(o.segments))
    table.add_row("journeys", " · ".join(f"{name} ({status})" for name, status in o.journeys) or "none")
    alerts = ", ".join(o.alerts) or "none open"
    table.add_row("metrics", f"{o.metric_rows:,} daily rows over {o.metric_days} days; alerts: {alerts}")
    table.add_row("ready in", f"{elapsed:.1f} s")
    out.print(table)
