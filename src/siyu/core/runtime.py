"""Process-level tuning for long-running server processes (`siyu serve` and its server processes)."""

from __future__ import annotations

import gc

_tuned = False


def tune_gc() -> None:
    """Move everything loaded so far out of the collector's sight and collect less often.

    Ingestion allocates many short-lived, acyclic objects per batch (parsed messages, row tuples); with
    the default thresholds the collector runs every 700 allocations and, every few hundred runs, walks
    the whole heap of imported modules, SQLAlchemy metadata and caches. `gc.freeze()` puts the objects
    that live as long as the process into a permanent generation the collector skips, and a larger
    first threshold lets a batch's garbage go by reference counting before a collection starts.
    Cycles are still collected, only later. Idempotent.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
