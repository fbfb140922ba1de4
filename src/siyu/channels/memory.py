"""The `memory` channel: records what it is asked to send, in process, for tests and dry runs.

A repeated idempotency key is answered with the first result and not recorded again. Tests can script
failures (`fail_next`) to exercise the caller's retries.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from siyu.core import clock

from .base import OutboundMessage, SendResult


@dataclass(frozen=True)
class Delivery:
    message: OutboundMessage
    result: SendResult
    at: datetime


@dataclass
class MemoryChannel:
    """Thread-safe; `deliveries` holds one entry per distinct idempotency key that was sent."""

    name: str = "memory"
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: int = 0
    _by_key: dict[str, SendResult] = field(default_factory=dict, repr=False)
    _scripted: deque[SendResult] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, message: OutboundMessage) -> SendResult:
        with self._lock:
            self.attempts += 1
            if message.idempotency_key in self._by_key:
                return self._by_key[message.idempotency_key]
            if self._scripted:
                scripted = self._scripted.popleft()
                if not scripted.ok:
                    return scripted  # a failure is not a delivery: the key stays free for the retry
                result = scripted
            else:
                result = SendResult.sent(f"mem-{len(self.deliveries) + 1}")
            self._by_key[message.idempotency_key] = result
            self.deliveries.append(Delivery(message, result, clock.now()))
            return result

    def fail_next(self, *results: SendResult) -> None:
        """The next sends answer these results, in order, before normal service resumes."""
        with self._lock:
            self._scripted.extend(results)

    def sent_to(self, recipient: str) -> list[OutboundMessage]:
        with self._lock:
            return [d.message for d in self.deliveries if d.message.recipient == recipient]

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()
            self._by_key.clear()
            self._scripted.clear()
            self.attempts = 0
