"""Which B-trees a SQLite write path dirties: WAL frames by table or index (`bench write-path --wal-pages`).

Every page a transaction changes is appended to the WAL as one frame at commit, and copied again into the
database at checkpoint, so frames per event is what the commit costs grow with. The counter turns off
automatic checkpoints for the engine, reads the page number of every frame in the WAL, and checkpoints
(TRUNCATE) itself after each read; at the end, `dbstat` names the B-tree each page belongs to. CPU figures
of a run with the counter on are not comparable with a normal run.
"""

from __future__ import annotations

import sqlite3
import struct
from collections import Counter
from pathlib import Path
from typing import Any

_WAL_HEADER = 32
_FRAME_HEADER = 24


class WalPageCounter:
    """Counts the frames of the last 30% of a run (the B-trees at their size), or of all of it."""

    def __init__(self, url: str, *, count_all: bool = False) -> None:
        from sqlalchemy import event

        from siyu.core.database import get_engine

        self.path = Path(url.split("///", 1)[-1])
        self.wal = self.path.with_name(self.path.name + "-wal")
        engine = get_engine(url)
        engine.dispose()
        event.listen(engine, "connect", _no_autocheckpoint)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.pages: Counter[int] = Counter()
        self.counting = count_all
        self.counted_from = 0  # events written when counting started
        self._groups = 0

    def after_group(self, written: int, events: int) -> None:
        """Call after each group commit: empties the WAL every 10 groups, and starts counting at 70%."""
        self._groups += 1
        if self._groups % 10:
            return
        self.harvest()
        if not self.counting and written >= events * 0.7:
            self.counting, self.counted_from = True, written

    def finish(self, written: int) -> dict[str, float]:
        self.harvest()
        try:
            return self.by_btree(written - self.counted_from)
        finally:
            self._conn.close()

    def harvest(self) -> None:
        """Count the frames written since the last harvest (if counting), then empty the WAL."""
        data = self.wal.read_bytes() if self.wal.exists() else b""
        if len(data) >= _WAL_HEADER:
            (page_size,) = struct.unpack(">I", data[8:12])
            step = _FRAME_HEADER + page_size
            if self.counting:
                for offset in range(_WAL_HEADER, len(data) - step + 1, step):
                    self.pages[struct.unpack_from(">I", data, offset)[0]] += 1
        busy, _log, _done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError("the WAL could not be checkpointed (a reader held it)")

    def by_btree(self, events: int) -> dict[str, float]:
        """Frames per event, by table or index name, largest first."""
        names = dict(self._conn.execute("SELECT pageno, name FROM dbstat"))
        frames: Counter[str] = Counter()
        for page, n in self.pages.items():
            frames[names.get(page, "(freelist)")] += n
        out = {"total": round(sum(frames.values()) / max(events, 1), 3)}
        out.update({name: round(n / max(events, 1), 3) for name, n in frames.most_common()})
        return out


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()
