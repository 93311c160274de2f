"""The principals of recently seen client and server credentials, and how they are revoked.

Every edge machine polls and heartbeats: a database round trip per request would dominate
those endpoints, so the Authenticator remembers each client and server credential's
principal for ``ttl_seconds``. A service that replaces or deletes credentials revokes the
cache once its transaction has committed (revoking earlier would let a concurrent request
cache the old credential again from the row not yet changed). Another API process keeps
honouring a replaced credential for at most ``ttl_seconds``. Enrolment tokens are never
cached (they are counted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from sqlalchemy import event
from sqlalchemy.orm import Session

from fedops_services.security.principals import Principal

__all__ = ["CredentialCache"]


class CredentialCache:
    """Principals by token hash; the Authenticator fills it, the services revoke it."""

    def __init__(
        self,
        ttl_seconds: float = 5.0,
        *,
        max_entries: int = 50_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._principals: TTLCache[str, Principal] = TTLCache(
            maxsize=max_entries, ttl=ttl_seconds, timer=timer
        )
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe
        # Counts revocations: a lookup that read the database before a revocation must not
        # remember what it read after it (the row it read may be the one just replaced).
        self._generation = 0

    def get(self, token_hash: str) -> Principal | None:
        with self._lock:
            return self._principals.get(token_hash)

    def generation(self) -> int:
        """Take this before reading a credential from the database; give it to ``remember``."""
        with self._lock:
            return self._generation

    def remember(self, token_hash: str, principal: Principal, *, read_at_generation: int) -> None:
        """Only found credentials are remembered (a token is valid as soon as its hash is
        stored), and only when no revocation happened since they were read."""
        with self._lock:
            if read_at_generation == self._generation:
                self._principals[token_hash] = principal

    def revoke_all(self) -> None:
        """Credentials were replaced or deleted, and that change has committed."""
        with self._lock:
            self._principals.clear()
            self._generation += 1

    def revoke_all_after_commit(self, session: Session) -> None:
        """Revoke once ``session``'s transaction commits; a rollback revokes nothing."""
        event.listen(session, "after_commit", lambda _session: self.revoke_all(), once=True)
