"""The outbox's worker job: dispatch due messages batch by batch (`runner_batch_size`), for about a second
per poll, so timers and events get their turn in between. Several workers may run it on PostgreSQL.
`BETWEEN_BATCHES` holds time-critical work (journey timers) run after every batch, not only every poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from siyu.core import clock
from siyu.worker.jobs import SessionFactory, every, register

from .confirmations import run_confirmations
from .dispatch import dispatch_batch

log = logging.getLogger(__name__)
BUDGET_S = 1.0
BETWEEN_BATCHES: list[Callable[[SessionFactory, datetime], int]] = []


def run_dispatch(factory: SessionFactory, now: datetime) -> int:
    """Send due outbox messages through the governor and their channels."""
    started, done = time.monotonic(), 0
    while time.monotonic() - started < BUDGET_S:
        n = dispatch_batch(factory, max(now, clock.now()))
        done += n
        if n == 0:
            break
        for work in BETWEEN_BATCHES:
            work(factory, max(now, clock.now()))
    return done


register("messaging.dispatch", run_dispatch)
register(
    "messaging.wecom_confirmations",
    run_confirmations,
    schedule=every(lambda s: s.wecom_confirmation_interval_s),
)
