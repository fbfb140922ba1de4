"""WAL checkpoints beside the SQLite writer instead of inside its commits.

In WAL mode every commit appends the pages it changed to the WAL, and a checkpoint copies the newest
version of each page back into the database file. SQLite checkpoints automatically inside the commit that
finds the WAL over `wal_autocheckpoint` pages, so the writer pays for the copy (and its fsync) and
every page that several commits changed in between is copied once per checkpoint. Under ingestion load a
page of `customer_stats` or of an index keyed by customer is changed again and again: the fewer
checkpoints, the fewer copies, but a large automatic checkpoint stalls the writer for as long as it runs.

`WalCheckpointer` runs passive checkpoints from a thread with its own connection every `interval` seconds
and raises this process's automatic threshold to a safety limit (`writer_limit` pages), so the writer
only appends. A passive checkpoint never blocks the writer or readers, but while the writer keeps
writing it never catches up with the end of the WAL, and the WAL only starts again from its beginning
after a checkpoint that did. So once the WAL holds `restart_at` frames, the thread chases the writer
with passive checkpoints until little is left, then restarts the WAL between two of this process's
write transactions (`writers_paused`), which keeps the file's size bounded. If the thread falls behind
(a long-lived reader holds old frames), the writer's automatic checkpoint at `writer_limit` takes over.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass

from siyu.core.database import set_sqlite_pragma, writers_paused

log = logging.getLogger(__name__)
# Frames (4 KiB pages) in the WAL before it is restarted. Each restart holds the writer back while the
# last transactions' pages are copied and the database file is synced, which takes 0.1–0.3 s at 1M
# events on this disk (the sync waits behind the WAL's own writes), so fewer, longer cycles cost less.
# `siyu bench ingest` at 1M events: 60,000 frames stalled the writer every ~12,000 events (8,258 events/s,
# p99 297 ms); 200,000 every ~40,000 (9,440/s, p99 266 ms); 400,000 every ~80,000 (p99 164 ms).
# Finding a page in the WAL costs no more for a longer WAL, as only frames not yet copied are searched.
# Under full load the WAL file grows to ~1.6–2 GB; SQLite reuses it from the start after each restart
# and removes it when the last connection closes.
RESTART_AT = 400_000
SMALL_REMAINDER = 2_000  # frames left by the chase; the restart copies them and the last transaction's
RESTART_WAIT_MS = 10  # how long a restart waits for other processes' writers and old readers
RESTART_BACKOFF_S = 2.0  # after a restart that had to give up


@dataclass
class CheckpointStats:
    runs: int = 0
    errors: int = 0
    wal_frames: int = 0  # at the last run: frames in the WAL, and how many of them are in the database
    copied: int = 0
    cpu_s: float = 0.0  # CPU time of the checkpoints (this thread's)
    restarts: int = 0  # times the WAL was started again from its beginning
    restarts_deferred: int = 0  # restarts given up because other writers or readers held the WAL


class WalCheckpointer:
    def __init__(
        self,
        url: str,
        *,
        interval: float = 0.5,
        restart_at: int = RESTART_AT,
        writer_limit: int = 2 * RESTART_AT,
    ) -> None:
        if not url.startswith("sqlite"):
            raise ValueError("WAL checkpoints are for SQLite databases")
        self.url = url
        self.path = url.split("///", 1)[-1]
        self.interval = interval
        self.restart_at = restart_at
        self.writer_limit = writer_limit
        self.stats = CheckpointStats()
        self._stop = threading.Event()
        self._next_restart = 0.0  # monotonic time before which no restart is tried (after a deferred one)
        self._thread = threading.Thread(target=self._run, name="siyu-wal-checkpoints", daemon=True)

    def start(self) -> WalCheckpointer:
        set_sqlite_pragma(self.url, "wal_autocheckpoint", self.writer_limit)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        set_sqlite_pragma(self.url, "wal_autocheckpoint", None)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                self.run_once(conn)
            self.run_once(conn)  # what the writer committed last
        finally:
            conn.close()

    def run_once(self, conn: sqlite3.Connection) -> None:
        """Copy what the WAL holds; once it is long, chase the writer with passive checkpoints until
        little is left, then restart the WAL from its beginning (RESTART waits for the writer's current
        transaction and holds the next one back only while it copies that little)."""
        _busy, frames, copied = self._checkpoint(conn, "PASSIVE")
        if frames < self.restart_at:
            return
        for _ in range(8):
            if frames - copied <= SMALL_REMAINDER:
                break
            _busy, frames, copied = self._checkpoint(conn, "PASSIVE")
        if frames - copied <= SMALL_REMAINDER and time.monotonic() >= self._next_restart:
            # Between two of this process's transactions (no busy-wait on SQLite's lock, whose sleeps
            # would stall the writer longer than the copy of what one transaction added). RESTART also
            # waits for other processes' writers and for readers of old frames: only briefly, since this
            # process's writers wait meanwhile; if they are still there, try again a little later.
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            try:
                with writers_paused():
                    busy, _frames, _copied = self._checkpoint(conn, "RESTART")
            finally:
                conn.execute("PRAGMA busy_timeout=30000")
            if busy:
                self.stats.restarts_deferred += 1
                self._next_restart = time.monotonic() + RESTART_BACKOFF_S
            else:
                self.stats.restarts += 1

    def _checkpoint(self, conn: sqlite3.Connection, mode: str) -> tuple[bool, int, int]:
        """(whether it could not finish, frames in the WAL, frames copied into the database) after a
        checkpoint in `mode` (not finishing: other writers or readers of old frames held it back)."""
        started = time.thread_time()
        try:
            busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:  # the next run tries again; the writer's limit is the backstop
            self.stats.errors += 1
            log.warning("WAL checkpoint failed: %s", exc)
            return True, 0, 0
        finally:
            self.stats.cpu_s += time.thread_time() - started
        self.stats.runs += 1
        self.stats.wal_frames, self.stats.copied = int(frames), int(copied)
        return bool(busy), int(frames), int(copied)
