"""`siyu` command line: serve, worker, database, sources, tokens, import, demo, bench."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from siyu.core.database import unit_of_work
from siyu.core.errors import SiyuError
from siyu.core.settings import get_settings

app = typer.Typer(help="siyu (私域): private-domain customer operations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
source_app = typer.Typer(help="Tracking sources and their write keys.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for /api/v1.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(source_app, name="source")
app.add_typer(token_app, name="token")
console = Console(stderr=True)


def fail(exc: SiyuError) -> typer.Exit:
    console.print(f"[red]error[/red]: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""))
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Target revision")) -> None:
    """Apply migrations to SIYU_DATABASE_URL."""
    from siyu.migrations import upgrade

    upgrade(get_settings().database_url, revision)
    console.print(f"database at revision {revision}")


@source_app.command("create")
def source_create(name: str) -> None:
    """Create a source; prints its write key (shown once)."""
    from siyu.auth.service import create_source
    from siyu.migrations import upgrade

    upgrade(get_settings().database_url)
    try:
        with unit_of_work() as session:
            _source, key = create_source(session, name)
    except SiyuError as exc:
        raise fail(exc) from exc
    print(key)


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="Token name"),
    role: str = typer.Option("viewer", "--role", help="admin|compliance|operator|analyst|advisor|viewer"),
) -> None:
    """Create an API token; prints it (shown once)."""
    from siyu.auth.service import create_token
    from siyu.migrations import upgrade

    upgrade(get_settings().database_url)
    try:
        with unit_of_work() as session:
            _row, token = create_token(session, name, role)
    except SiyuError as exc:
        raise fail(exc) from exc
    print(token)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default SIYU_HOST)"),
    port: int = typer.Option(None, help="Port (default SIYU_PORT)"),
    workers: int = typer.Option(
        1,
        min=1,
        help="Server processes. On SQLite they hand tracking batches to one writer in this process.",
    ),
) -> None:
    """Migrate, then serve the API and console."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from siyu.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    writer_server, writer_dir = None, None
    if settings.is_sqlite and workers > 1:
        from siyu.events.writer import WriterServer

        writer_dir = tempfile.mkdtemp(prefix="siyu-writer-")
        writer_server = WriterServer(os.path.join(writer_dir, "ingest.sock")).start()
        os.environ["SIYU_INGEST_WRITER_SOCKET"] = writer_server.path  # read by the server processes
        console.print(f"SQLite: {workers} server processes hand tracking batches to one writer here")
    checkpoints: Any = None
    if settings.is_sqlite and writer_server is None:  # the writer server runs its own
        from siyu.core.checkpoints import WalCheckpointer

        checkpoints = WalCheckpointer(settings.database_url).start()
    background: Any = None
    from siyu.core.runtime import tune_gc

    tune_gc()
    if settings.inprocess_worker and writer_server is not None:  # the writer needs this process's core
        from siyu.cli.serving import WorkerProcess

        background = WorkerProcess().start()
    elif settings.inprocess_worker:  # segments, tags, scheduled jobs; SIYU_INPROCESS_WORKER=false to skip
        from siyu.worker.runner import WorkerThread

        background = WorkerThread().start()
    try:
        uvicorn.run(
            "siyu.web.app:create_served_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        if background is not None:
            background.stop()
        if writer_server is not None:
            writer_server.stop()
            console.print(writer_server.stats.summary())
            os.environ.pop("SIYU_INGEST_WRITER_SOCKET", None)
        if checkpoints is not None:
            checkpoints.stop()
        if writer_dir is not None:
            shutil.rmtree(writer_dir, ignore_errors=True)


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Run every due job once, then exit"),
) -> None:
    """Run the background worker (segment queue, time re-checks, scheduled jobs) until Ctrl-C / SIGTERM.
    Several may run against PostgreSQL; on SQLite `siyu serve` already runs one."""
    import signal

    from siyu.migrations import upgrade
    from siyu.worker.runner import Worker

    upgrade(get_settings().database_url)
    runner = Worker()
    if once:
        console.print(f"work done: {runner.run_once()}")
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: runner.stop())
    console.print(f"worker running: {', '.join(j.name for j in runner.jobs)}")
    runner.run_forever()


def _register_optional() -> None:
    """Commands whose modules pull heavier imports register themselves here."""
    from siyu.cli import extra

    extra.register(app)


_register_optional()
