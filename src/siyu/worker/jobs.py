"""The job registry: a job is a name, a function `(session_factory, now) -> work done`, and when it runs
(every poll, every N seconds, or daily at a local hour). Capabilities register theirs in a `jobs` module
listed in `MODULES`; adding a job is one line: `register("journeys.timers", run_due_timers)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session, sessionmaker

from siyu.core.settings import Settings, get_settings

SessionFactory = sessionmaker[Session]
Run = Callable[[SessionFactory, datetime], int]
# When a periodic job is next due, given the last start (None: never ran) and now.
Schedule = Callable[[datetime | None, datetime], bool]

# Capability modules whose import registers jobs (a module not built yet is skipped).
MODULES = (
    "siyu.segments.jobs",
    "siyu.worker.builtin",
    "siyu.journeys.jobs",
    "siyu.messaging.jobs",
    "siyu.predict.jobs",
    "siyu.analytics.jobs",
)


@dataclass(frozen=True)
class Job:
    name: str
    run: Run
    schedule: Schedule | None = None  # None: every poll (queues: cheap when there is nothing to do)
    description: str = ""


JOBS: dict[str, Job] = {}


def register(name: str, run: Run, *, schedule: Schedule | None = None, description: str = "") -> Job:
    """Add (or replace) a job. Jobs run in registration order within one poll."""
    job = Job(name, run, schedule, description or (run.__doc__ or "").strip().split("\n")[0])
    JOBS[name] = job
    return job


def every(seconds: Callable[[Settings], float]) -> Schedule:
    """Due when `seconds(settings)` have passed since the last start (0 or less: never)."""

    def due(last: datetime | None, now: datetime) -> bool:
        interval = seconds(get_settings())
        if interval <= 0:
            return False
        return last is None or now - last >= timedelta(seconds=interval)

    return due


def daily(hour: Callable[[Settings], int | None]) -> Schedule:
    """Due once a day at a local hour of the brand's zone (None: never). A job that never ran waits for
    the next occurrence rather than starting at once."""

    def due(last: datetime | None, now: datetime) -> bool:
        from siyu.segments import windows

        at = hour(get_settings())
        if at is None or last is None:
            return False
        local = now.astimezone(windows.zone())
        latest = datetime.combine(local.date(), time(at), tzinfo=windows.zone())
        if latest > local:
            latest -= timedelta(days=1)
        return last < latest

    return due


def load() -> dict[str, Job]:
    """Import every capability's jobs module once; returns the registry."""
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not f"{name}.".startswith(f"{exc.name}."):
                raise
    return JOBS
