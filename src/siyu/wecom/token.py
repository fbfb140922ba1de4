"""Access-token cache, one token per corp + app (secret), refreshed before it expires.

WeCom tokens live `expires_in` seconds (7200); every API call needs one and `gettoken` itself is rate
limited, so a process shares one cache. Time comes from `siyu.core.clock.now()` (tests freeze it).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from siyu.core import clock

TokenFetcher = Callable[[], tuple[str, int]]  # -> (access_token, expires_in seconds)


@dataclass(frozen=True)
class CachedToken:
    token: str
    obtained_at: datetime
    expires_at: datetime
    refresh_at: datetime


class TokenCache:
    """Thread-safe; concurrent callers for the same app wait for one fetch instead of each fetching."""

    def __init__(self, *, refresh_margin_s: float = 300.0) -> None:
        self.refresh_margin_s = refresh_margin_s
        self._entries: dict[tuple[str, str], CachedToken] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0

    @staticmethod
    def key(corp_id: str, secret: str) -> tuple[str, str]:
        # The secret identifies the app; keep only a digest of it in memory.
        return corp_id, hashlib.sha256(secret.encode()).hexdigest()[:16]

    def get(self, corp_id: str, secret: str, fetch: TokenFetcher) -> str:
        key = self.key(corp_id, secret)
        entry = self._fresh(key)
        if entry is not None:
            return entry.token
        with self._lock_for(key):
            entry = self._fresh(key)  # another thread may have fetched while we waited
            if entry is not None:
                return entry.token
            token, expires_in = fetch()
            self.fetches += 1
            entry = self._entry(token, expires_in)
            with self._guard:
                self._entries[key] = entry
            return entry.token

    def peek(self, corp_id: str, secret: str) -> CachedToken | None:
        with self._guard:
            return self._entries.get(self.key(corp_id, secret))

    def invalidate(self, corp_id: str, secret: str, token: str | None = None) -> None:
        """Drop the cached token (only if it is still `token`, when given: another thread may have
        replaced it already)."""
        key = self.key(corp_id, secret)
        with self._guard:
            entry = self._entries.get(key)
            if entry is not None and (token is None or entry.token == token):
                del self._entries[key]

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def _entry(self, token: str, expires_in: int) -> CachedToken:
        now = clock.now()
        lifetime = max(0, int(expires_in))
        # Refresh `refresh_margin_s` early, but never later than half-way through a short lifetime.
        early = min(self.refresh_margin_s, lifetime / 2)
        return CachedToken(
            token=token,
            obtained_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            refresh_at=now + timedelta(seconds=lifetime - early),
        )

    def _fresh(self, key: tuple[str, str]) -> CachedToken | None:
        with self._guard:
            entry = self._entries.get(key)
        if entry is None or clock.now() >= entry.refresh_at:
            return None
        return entry

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


shared_tokens = TokenCache()
"""The process-wide cache every `WeComClient` uses unless given its own."""
