"""The in-process measurements of `siyu bench segments`: RFM full recompute, the lifecycle sweeps, the full
rebuild of each bench segment, and previews. Each call is one unit of work, timed including its commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from siyu.bench.seg_definitions import BenchSegment, ensure_segments
from siyu.core.database import session_factory, unit_of_work


@dataclass(frozen=True)
class Timed:
    seconds: float
    value: Any


def timed(url: str, work: Any) -> Timed:
    """Run `work(session)` in a unit of work; seconds include the commit."""
    started = time.perf_counter()
    with unit_of_work(url) as session:
        value = work(session)
    return Timed(time.perf_counter() - started, value)


def rfm(url: str, now: datetime) -> dict[str, Any]:
    from siyu.rfm import service

    first = timed(url, lambda s: service.recompute_all(s, now).customers)
    again = timed(url, lambda s: service.recompute_all(s, now).customers)  # the nightly steady state
    return {
        "rfm_s": round(first.seconds, 3),
        "rfm_repeat_s": round(again.seconds, 3),
        "rfm_customers": first.value,
    }


def lifecycle_first(url: str, now: datetime) -> float | None:
    """The first sweep goes through everyone (None when the database already had one)."""
    from siyu.lifecycle.service import SWEEP_JOB, sweep
    from siyu.lifecycle.tables import JobRun

    with session_factory(url)() as session:
        if session.get(JobRun, SWEEP_JOB) is not None:
            return None
    return round(timed(url, lambda s: sweep(s, now)).seconds, 3)


def lifecycle_daily(url: str, now: datetime) -> dict[str, Any]:
    """A sweep one day after the previous one: only customers whose stage can change that day."""
    from siyu.core.clock import as_utc
    from siyu.lifecycle.service import SWEEP_JOB, sweep
    from siyu.lifecycle.tables import JobRun

    with session_factory(url)() as session:
        job = session.get(JobRun, SWEEP_JOB)
        last = as_utc(job.last_run_at) if job is not None else now
    at = max(now, last) + timedelta(days=1)
    run = timed(url, lambda s: sweep(s, at))
    return {"lifecycle_sweep_s": round(run.seconds, 3), "lifecycle_sweep_changes": run.value}


def lifecycle_stages(url: str) -> dict[str, int]:
    from siyu.lifecycle.tables import LifecycleState

    with session_factory(url)() as session:
        query = select(LifecycleState.stage, func.count()).group_by(LifecycleState.stage)
        return {str(stage): int(n) for stage, n in session.execute(query)}


def segments(url: str, now: datetime, tick: Any) -> tuple[list[dict[str, Any]], list[BenchSegment]]:
    """Create (or find) the ten segments, then rebuild each twice: from the state found, then again
    with nothing to change."""
    from siyu.segments.evaluation import rebuild

    made = timed(url, lambda s: ensure_segments(s, now)).value
    out: list[dict[str, Any]] = []
    for n, (spec, segment_id) in enumerate(made):
        tick(n)
        first = timed(url, lambda s, i=segment_id: rebuild(s, i, now, reason="bench"))
        again = timed(url, lambda s, i=segment_id: rebuild(s, i, now, reason="bench"))
        out.append(
            {
                "name": spec.name,
                "id": segment_id,
                "full_rebuild_s": round(first.seconds, 3),
                "members": first.value.members,
                "entered": first.value.entered,
                "exited": first.value.exited,
                "unchanged_rebuild_s": round(again.seconds, 3),
            }
        )
    return out, [spec for spec, _ in made]


def previews(url: str, now: datetime, roots: list[dict[str, Any]], repeats: int) -> list[float]:
    """Milliseconds of `segments.service.preview` (count + sample) for each definition, `repeats` times."""
    from siyu.segments.service import preview

    out: list[float] = []
    for _ in range(repeats):
        for root in roots:
            with session_factory(url)() as session:
                started = time.perf_counter()
                preview(session, {"version": 1, "root": root}, now=now)
                out.append((time.perf_counter() - started) * 1000)
                session.rollback()
    return out


def catch_up(url: str, limit_s: float = 3600.0) -> dict[str, Any]:
    """Run siyu's worker loop in-process until one poll finds nothing to do. A bulk-loaded database
    starts with every job's backlog (e.g. the journeys event cursor at 0); the incremental latency is
    measured after it, in the steady state."""
    from siyu.worker.runner import Worker

    worker = Worker(session_factory(url))
    started = time.perf_counter()
    polls = work = 0
    done = 1
    while done and time.perf_counter() - started < limit_s:
        done = worker.run_once()
        polls += 1
        work += done
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "polls": polls,
        "work": work,
        "idle": done == 0,
    }
