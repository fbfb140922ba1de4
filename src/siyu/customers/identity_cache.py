"""Identities the SQLite ingestion writer has seen, kept in memory between its transactions.

Looking up every identity key of a group of batches was the writer's most expensive read (0.011 ms per
event at 1M events: the keys are random, so each lookup lands on a different page of the identity index).
Most keys belong to returning customers whose identities do not change, so the writer keeps
`(type, lookup) → customer` for the keys it has looked up or created and asks the database only for the
others.

Staying correct when someone else changes identities: `identity_epoch` (migration 0008) moves whenever
an identity changes owner or disappears (SQLite triggers, so every code path and process counts). The
writer reads it at the start of each transaction, which it begins with `BEGIN IMMEDIATE` — nobody else
can write until it commits — and forgets everything if it moved. What a transaction learns is kept only
once it commits (a rolled-back transaction's new identities do not exist), and a transaction that merged
stored customers forgets everything instead (the merge moved identities). A new identity inserted by
someone else needs nothing: it was not known, so it is looked up.

SQLite only: on PostgreSQL writers run side by side, and a number read at the start of a transaction says
nothing about what another one commits meanwhile.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from siyu.core.settings import get_settings

Key = tuple[str, str]  # (identity type, lookup): `IdentityKey.key`

_caches: weakref.WeakKeyDictionary[Engine, IdentityCache] = weakref.WeakKeyDictionary()


class IdentityCache:
    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("an identity cache needs room for at least one identity")
        self.limit = limit
        self.owners: dict[Key, int] = {}
        self.epoch: int | None = None  # the identity epoch `owners` is valid for
        self._staged: dict[Key, int] = {}
        self._forget = False
        self.hits = 0
        self.misses = 0
        self.resets = 0  # times it was emptied because identities changed owner

    def begin(self, session: Session) -> None:
        """Start using the cache in `session`'s write transaction (begun with BEGIN IMMEDIATE: call
        `core.database.begin_immediate` first), forgetting everything if identities changed owner since."""
        epoch = session.execute(text("SELECT epoch FROM identity_epoch WHERE id = 1")).scalar_one()
        if epoch != self.epoch:
            if self.owners:
                self.resets += 1
            self.owners.clear()
            self.epoch = int(epoch)
        self._staged.clear()
        self._forget = False

    def known(self, keys: Iterable[Key]) -> dict[Key, int]:
        """The owners of those of `keys` the cache knows."""
        found: dict[Key, int] = {}
        owners = self.owners
        for key in keys:
            cid = owners.get(key)
            if cid is None:
                self.misses += 1
            else:
                found[key] = cid
                self.hits += 1
        return found

    def learn(self, owners: Iterable[tuple[Key, int]]) -> None:
        """Identities as the current transaction leaves them (kept if it commits)."""
        self._staged.update(owners)

    def forget_on_commit(self) -> None:
        """The current transaction moved identities (a merge): know nothing after it."""
        self._forget = True

    def commit(self) -> None:
        """The transaction committed: keep what it learned."""
        if self._forget:
            self.owners.clear()
            self.epoch = None  # read again at the next transaction
        else:
            self.owners.update(self._staged)
            if len(self.owners) > self.limit:  # drop the oldest tenth (a dict keeps insertion order)
                excess = len(self.owners) - self.limit * 9 // 10
                for key in list(itertools.islice(self.owners, excess)):
                    del self.owners[key]
        self._staged.clear()
        self._forget = False

    def rollback(self) -> None:
        """The transaction rolled back: keep nothing it learned (what was known before still holds)."""
        self._staged.clear()
        self._forget = False


def cache_for(session: Session) -> IdentityCache | None:
    """The writer's identity cache for `session`'s database: None on PostgreSQL or when turned off
    (`SIYU_SQLITE_IDENTITY_CACHE_ENTRIES=0`). One per engine, so a new engine starts empty."""
    engine = session.get_bind()
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return None
    cache = _caches.get(engine)
    if cache is None:
        limit = get_settings().sqlite_identity_cache_entries
        if limit == 0:
            return None
        cache = _caches[engine] = IdentityCache(limit)
    return cache
