"""`siyu journeys …`: list, show (with counts), create from a JSON file or a playbook, activate / pause,
start by hand, and `run-once` (one pass of the runner and outbox jobs, e.g. from cron on SQLite)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

journeys_app = typer.Typer(help="Journeys: automation runs, timers and the outbox.", no_args_is_help=True)
console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(journeys_app, name="journeys")


def _out(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _unit() -> Any:
    from siyu.core.database import unit_of_work
    from siyu.core.settings import get_settings
    from siyu.migrations import upgrade

    upgrade(get_settings().database_url)
    return unit_of_work()


def _fail(exc: Exception) -> typer.Exit:
    from siyu.core.errors import SiyuError

    if isinstance(exc, SiyuError):
        console.print(f"[red]error[/red]: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""))
        return typer.Exit(code=2)
    raise exc


@journeys_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="JSON on stdout")) -> None:
    """Journeys with their status and version."""
    from siyu.journeys import service

    with _unit() as session:
        rows = [(j.id, j.name, j.status, j.current_version) for j in service.list_journeys(session)]
    if as_json:
        _out([{"id": i, "name": n, "status": s, "version": v} for i, n, s, v in rows])
        return
    table = Table("id", "name", "status", "version")
    for row in rows:
        table.add_row(*(str(x) for x in row))
    Console().print(table)


@journeys_app.command("show")
def show(journey_id: int) -> None:
    """A journey's definition and counts, as JSON."""
    from siyu.journeys import service

    try:
        with _unit() as session:
            journey = service.get(session, journey_id)
            definition = service.definition_of(session, journey).model_dump(mode="json")
            counts = service.stats(session, journey_id)
            data = {"id": journey.id, "name": journey.name, "status": journey.status, "stats": counts,
                    "version": journey.current_version, "definition": definition}  # fmt: skip
    except Exception as exc:
        raise _fail(exc) from exc
    _out(data)


@journeys_app.command("create")
def create(
    file: Path = typer.Option(None, "--file", exists=True, dir_okay=False, help="Definition JSON"),
    playbook: str = typer.Option(None, "--playbook", help="Clone a playbook instead (see GET …/playbooks)"),
    params: str = typer.Option(
        "{}", "--params", help='Playbook parameters, JSON, e.g. {"new_customer_tag_id": 3}'
    ),
    activate: bool = typer.Option(False, "--activate", help="Activate it right away"),
) -> None:
    """Create a journey (draft unless --activate); prints its id."""
    from siyu.core import clock
    from siyu.journeys import service

    if (file is None) == (playbook is None):
        raise typer.BadParameter("give either --file or --playbook")
    try:
        with _unit() as session:
            if file is not None:
                journey = service.create(session, json.loads(file.read_text()), actor="cli", now=clock.now())
            else:
                journey = service.clone_playbook(
                    session, playbook, json.loads(params), actor="cli", now=clock.now()
                )
            if activate:
                service.transition(session, journey.id, "activate", now=clock.now())
            journey_id = journey.id
    except Exception as exc:
        raise _fail(exc) from exc
    print(journey_id)


@journeys_app.command("status")
def set_status(journey_id: int, action: str = typer.Argument(..., help="activate | pause | archive")) -> None:
    """Activate, pause or archive a journey."""
    from siyu.core import clock
    from siyu.journeys import service

    if action not in service.TRANSITIONS:
        raise typer.BadParameter("activate, pause or archive", param_hint="action")
    try:
        with _unit() as session:
            journey = service.transition(session, journey_id, action, now=clock.now())
            console.print(f"journey {journey.id} is {journey.status}")
    except Exception as exc:
        raise _fail(exc) from exc


@journeys_app.command("trigger")
def trigger(
    journey_id: int,
    customers: str = typer.Option(None, "--customers", help="Comma-separated customer ids"),
    segment: int = typer.Option(None, "--segment", help="Every member of this segment"),
    key: str = typer.Option(None, "--key", help="Idempotency key"),
) -> None:
    """Start a journey (with a manual trigger) for customers or a segment."""
    from siyu.core import clock
    from siyu.journeys import service

    ids = [int(c) for c in customers.split(",") if c.strip()] if customers else None
    try:
        with _unit() as session:
            result = service.trigger(session, journey_id, now=clock.now(), actor="cli", customer_ids=ids,
                                     segment_id=segment, key=key)  # fmt: skip
    except Exception as exc:
        raise _fail(exc) from exc
    _out(result)


@journeys_app.command("run-once")
def run_once() -> None:
    """One pass of the journey jobs and the outbox (what each `siyu worker` poll does for journeys)."""
    from siyu.core import clock
    from siyu.core.database import session_factory
    from siyu.core.settings import get_settings
    from siyu.journeys import jobs as journey_jobs
    from siyu.messaging import jobs as messaging_jobs
    from siyu.migrations import upgrade

    upgrade(get_settings().database_url)
    factory, now = session_factory(), clock.now()
    jobs = (
        journey_jobs.run_events,
        journey_jobs.run_timers,
        journey_jobs.run_bulk,
        messaging_jobs.run_dispatch,
    )
    _out({job.__name__: job(factory, now) for job in jobs})
