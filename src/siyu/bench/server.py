"""The server under test: a real `siyu serve` process in its own session, and a sampler of its RSS and CPU.

`stop()` terminates the whole process group (uvicorn workers included) and is safe to call twice.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from siyu.devtools.pg_server import free_port

HOST = "127.0.0.1"


def siyu_command() -> list[str]:
    """The `siyu` script beside this interpreter (the venv's), else one found on PATH."""
    beside = Path(sys.executable).parent / "siyu"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("siyu")
    if found:
        return [found]
    return [sys.executable, "-c", "from siyu.cli.main import app; app()"]


class ServerProcess:
    def __init__(self, database_url: str, workers: int, log_path: Path) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> ServerProcess:
        env = {**os.environ, "SIYU_DATABASE_URL": self.database_url}
        args = ["serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own CLI)
                [*siyu_command(), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us, and we stop the group in order
            )
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"siyu serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"siyu serve did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass


class TreeSampler:
    """Samples a process and its children every `interval` seconds in a thread: peak RSS and CPU seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss = 0
        for p in processes:
            try:
                rss += p.memory_info().rss
                times = p.cpu_times()
                self._cpu[p.pid] = times.user + times.system
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / 2**20

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process seen in the tree (a process's last sample counts)."""
        return sum(self._cpu.values())
