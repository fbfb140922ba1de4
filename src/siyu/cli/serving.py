"""What `siyu serve` runs beside the HTTP server processes: the background worker as a process of its
own when this process is SQLite's ingestion writer.

With `--workers N` on SQLite the `siyu serve` process is the one writer of tracking batches
(`siyu.events.writer`) and needs its core; the worker (segments, rule tags, lifecycle, journeys) then
runs in a child process instead of a thread here, where it would hold the same GIL. It stops with
`siyu serve`, and on its own if `siyu serve` disappears without stopping it (SIGKILL).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.process import BaseProcess


def _run_worker(parent: int) -> None:
    from siyu.worker.runner import Worker

    worker = Worker()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())

    def orphaned() -> None:
        while not worker.stopping.is_set():
            if os.getppid() != parent:
                worker.stop()
                return
            time.sleep(1.0)

    threading.Thread(target=orphaned, name="siyu-worker-parent", daemon=True).start()
    worker.run_forever()


class WorkerProcess:
    """The background worker in a child process (`start`, `stop`), the counterpart of `WorkerThread`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.process: BaseProcess = context.Process(
            target=_run_worker, args=(os.getpid(),), name="siyu-worker", daemon=True
        )

    def start(self) -> WorkerProcess:
        self.process.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: the worker finishes its current job and returns
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
