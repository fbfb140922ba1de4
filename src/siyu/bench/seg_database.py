"""The database `siyu bench segments` runs against (a temporary or kept SQLite file, a throwaway or kept
PostgreSQL cluster, or `--database-url`), and the bulk load run in a child process so that its memory
is released and measured apart from the benchmark's.
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import shutil
import subprocess
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from siyu.bench.seg_model import BrandSize
from siyu.devtools.pg_server import ThrowawayPostgres, find_bin

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Database:
    url: str
    postmaster_pid: int | None = None  # a PostgreSQL we started (to sample its memory)
    kept: str | None = None  # where the data stays after the run


class KeptPostgres(ThrowawayPostgres):
    """A PostgreSQL cluster in `folder` that outlives the run: created on first use, restarted after."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        shutil.rmtree(self.dir, ignore_errors=True)  # the parent's temporary directory is not used
        self.dir = folder.resolve()
        self.data = self.dir / "data"

    def start(self) -> KeptPostgres:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            super().start()
            return self
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB"
        )
        pg_ctl = [find_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log")]
        self._run([*pg_ctl, "-w", "-t", "120", "start"])
        return self

    def stop(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self._run([find_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def ensure_database(self, name: str) -> str:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return self.url(name) if found else self.create_database(name)


def _postmaster(server: ThrowawayPostgres) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


@contextmanager
def database(url: str | None, postgres: bool, keep: Path | None, workdir: Path) -> Iterator[Database]:
    if url:
        yield Database(url)
    elif postgres:
        server: ThrowawayPostgres = KeptPostgres(keep / "postgres") if keep else ThrowawayPostgres()
        try:
            server.start()
            if isinstance(server, KeptPostgres):
                bench_url = server.ensure_database("siyu_bench")
            else:
                bench_url = server.create_database("siyu_bench")
            yield Database(bench_url, _postmaster(server), str(server.dir) if keep else None)
        finally:
            server.stop()
    elif keep:
        keep.mkdir(parents=True, exist_ok=True)
        path = keep.resolve() / "segments.db"
        yield Database(f"sqlite:///{path}", None, str(path))
    else:
        yield Database(f"sqlite:///{workdir / 'segments.db'}")


def _child(url: str, size: BrandSize, now: datetime, out: Any) -> None:
    from siyu.bench.bulkload import load

    try:
        result = load(url, size, now, lambda phase, done, total: out.put(("progress", phase, done, total)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.put(("done", {"rows": result.rows, "seconds": result.seconds, "peak_rss_mb": round(peak, 1)}))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def load_in_child(url: str, size: BrandSize, now: datetime, progress: Progress) -> dict[str, Any]:
    """Run `bulkload.load` in a spawned process, relaying its progress; returns its figures."""
    ctx = multiprocessing.get_context("spawn")
    messages: Any = ctx.Queue()
    child = ctx.Process(target=_child, args=(url, size, now, messages), name="siyu-bench-load")
    child.start()
    try:
        while True:
            try:
                item = messages.get(timeout=0.5)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the loader exited with {child.exitcode} without a result") from None
                continue
            if item[0] == "progress":
                progress(item[1], item[2], item[3])
            elif item[0] == "error":
                raise RuntimeError(f"the loader failed:\n{item[1]}")
            else:
                result: dict[str, Any] = item[1]
                return result
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.terminate()
            child.join(timeout=10)
