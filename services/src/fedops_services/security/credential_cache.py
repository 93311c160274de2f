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

    def get(self, token_hash: str) -> Principal | None:
        with self._lock:
            return self._principals.get(token_hash)

    def remember(self, token_hash: str, principal: Principal) -> None:
        """Only found credentials are remembered: a token is valid as soon as its hash is stored."""
        with self._lock:
            self._principals[token_hash] = principal

    def revoke_all(self) -> None:
        """Credentials were replaced or deleted, and that change has committed."""
        with self._lock:
            self._principals.clear()

    def revoke_all_after_commit(self, session: Session) -> None:
        """Revoke once ``session``'s transaction commits; a rollback revokes nothing."""
        event.listen(session, "after_commit", lambda _session: self.revoke_all(), once=True)
