"""A small thread-safe cache whose entries expire after a fixed time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries live ``ttl_seconds``; ``ttl_seconds == 0`` disables caching entirely.

    When full it is simply emptied: the callers cache cheap-to-rebuild values, and an
    occasional cold start beats bookkeeping on every hit.
    """

    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)  # a dict read is atomic under the GIL: no lock on hits
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def put(self, key: K, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (value, self._clock() + self.ttl_seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
