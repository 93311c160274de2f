"""The principals of recently seen client and server credentials, and how they are revoked.

Every edge machine polls and heartbeats: a database round trip per request would dominate
those endpoints, so the Authenticator remembers each client and server credential's
principal for ``ttl_seconds``. A service that replaces or deletes credentials revokes the
cache once its transaction has committed (revoking earlier would let a concurrent request
cache the old credential again from the row not yet changed). Another API process keeps
honouring a replaced credential for at most ``ttl_seconds``. Enrolment tokens are never
cached (they are counted). The console's sessions use the same mechanism
(:class:`RevocableCache`) for the same reason: every page polls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import TTLCache
from sqlalchemy import event
from sqlalchemy.orm import Session

from fedops_services.security.principals import Principal

__all__ = ["CredentialCache", "RevocableCache"]

V = TypeVar("V")


class RevocableCache(Generic[V]):
    """Values by token hash for ``ttl_seconds``, dropped all at once by a revocation."""

    def __init__(
        self,
        ttl_seconds: float = 5.0,
        *,
        max_entries: int = 50_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._values: TTLCache[str, V] = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=timer)
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe
        # Counts revocations: a lookup that read the database before a revocation must not
        # remember what it read after it (the row it read may be the one just replaced).
        self._generation = 0

    def get(self, token_hash: str) -> V | None:
        with self._lock:
            return self._values.get(token_hash)

    def generation(self) -> int:
        """Take this before reading from the database; give it to ``remember``."""
        with self._lock:
            return self._generation

    def remember(self, token_hash: str, value: V, *, read_at_generation: int) -> None:
        """Only found values are remembered, and only when no revocation happened since
        they were read."""
        with self._lock:
            if read_at_generation == self._generation:
                self._values[token_hash] = value

    def revoke_all(self) -> None:
        """Something cached was replaced or deleted, and that change has committed."""
        with self._lock:
            self._values.clear()
            self._generation += 1


class CredentialCache(RevocableCache[Principal]):
    """Principals by token hash; the Authenticator fills it, the services revoke it."""

    def revoke_all_after_commit(self, session: Session) -> None:
        """Revoke once ``session``'s transaction commits; a rollback revokes nothing."""
        event.listen(session, "after_commit", lambda _session: self.revoke_all(), once=True)
