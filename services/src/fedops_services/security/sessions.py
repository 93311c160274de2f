"""Web console sessions: the admin token exchanged for a cookie, and the CSRF token that goes with it.

A browser must not keep the admin token (no storage, no URLs), so signing in trades it
for a random secret in an HttpOnly, SameSite=Strict cookie. The database keeps only the
secret's hash (the secret has 256 bits, so plain SHA-256 suffices, as for every token
here) and a binding to the admin token: an HMAC of the admin token's hash keyed by the
secret. Changing FEDOPS_ADMIN_TOKEN therefore ends every session, and the row alone gives
nothing to guess the admin token with offline.

The CSRF token is derived from the secret (an HMAC with a fixed label), so nothing more
is stored, and the page learns it only from the JSON answers of sign-in and ``GET
/session``, which a page of another origin cannot read. The two defences cover different
ground. SameSite=Strict keeps the cookie off requests from other *sites* only: a page on a
sibling subdomain or another port of the same site still sends it, and there the CSRF
token (which such a page cannot read) is the defence. Neither protects against an app
sharing the console's *origin*, such as another application behind the same host under
another path prefix: it can read the token and send the cookie. A path prefix is not a
security boundary; give the console a host of its own if others share it.

Every console page polls every 2 s, so sessions found are remembered for a few seconds.
Signing out forgets the session in this process at once; another API process (monitoring
in the chart) may honour a signed-out session for at most ``cache_seconds``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fedops_services.db.tables import utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.security.credential_cache import RevocableCache
from fedops_services.security.principals import Principal, require_admin
from fedops_services.security.tokens import hash_token
from fedops_services.store import sessions as session_store

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "ConsoleSession",
    "ConsoleSessions",
    "OpenedSession",
    "check_csrf",
    "csrf_token_of",
]

SESSION_COOKIE = "fedops_session"
CSRF_HEADER = "X-CSRF-Token"
# Methods that change nothing; every other one needs the CSRF token when the cookie authenticates.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_SECRET_LENGTH = 128  # token_urlsafe(32) is 43 characters; longer cookies are not ours
_CSRF_LABEL = b"fedops console csrf token"


@dataclass(frozen=True)
class ConsoleSession:
    secret_hash: str
    csrf_token: str
    expires_at: datetime
    role: str = "admin"  # only the admin token opens sessions


@dataclass(frozen=True)
class OpenedSession:
    secret: str  # for the cookie; never stored
    session: ConsoleSession


def csrf_token_of(secret: str) -> str:
    digest = hmac.new(secret.encode(), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_csrf(session: ConsoleSession, presented: str | None) -> None:
    """403 ``csrf_token_invalid`` unless ``presented`` is the session's CSRF token."""
    if presented is None or not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
        raise FedopsError(
            ErrorCode.CSRF_TOKEN_INVALID,
            f"a request that changes something, signed in by the console's session cookie, needs the "
            f"{CSRF_HEADER} header with the csrf_token of POST or GET /api/v1/session",
        )


class ConsoleSessions:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reads: Engine,
        admin_token: str,
        ttl_seconds: int,
        *,
        cache_seconds: float = 5.0,
        max_cached: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._admin_hash = hash_token(admin_token)
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock
        # A sign-out revokes it: a lookup that read a row before one must not remember it after.
        self._cache: RevocableCache[ConsoleSession] = RevocableCache(
            cache_seconds, max_entries=max_cached, timer=timer
        )

    def open(self, principal: Principal, *, replacing: str | None = None) -> OpenedSession:
        """A new session for the admin (403 for any other principal). ``replacing``, the
        secret of the browser's previous session, is revoked; expired sessions are removed."""
        require_admin(principal)
        if replacing:
            self.revoke(replacing)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        expires_at = now + self._ttl
        with self._sessions.begin() as session:
            # Here rather than on a timer: sessions only appear by signing in, so the table
            # holds at most the sessions opened within one TTL.
            session_store.delete_expired_sessions(session, now)
            session_store.insert_session(
                session, hash_token(secret), self._binding(secret), created_at=now, expires_at=expires_at
            )
        return OpenedSession(secret, ConsoleSession(hash_token(secret), csrf_token_of(secret), expires_at))

    def cached(self, secret: str) -> ConsoleSession | None:
        """The session of a recently seen secret, without I/O; None if unknown here."""
        found = self._cache.get(hash_token(secret)) if len(secret) <= _MAX_SECRET_LENGTH else None
        return found if found is not None and found.expires_at > self._clock() else None

    def authenticate(self, secret: str | None) -> ConsoleSession:
        """The live session of ``secret``, or 401 (unknown, signed out, expired, or opened
        with another admin token)."""
        if not secret or len(secret) > _MAX_SECRET_LENGTH:
            raise _no_session()
        found = self.cached(secret)
        if found is not None:
            return found
        secret_hash = hash_token(secret)
        generation = self._cache.generation()
        with Session(self._reads) as session:
            row = session_store.find_session(session, secret_hash)
        if (
            row is None
            or row.expires_at <= self._clock()
            or not hmac.compare_digest(row.admin_binding, self._binding(secret))
        ):
            raise _no_session()
        found = ConsoleSession(secret_hash, csrf_token_of(secret), row.expires_at)
        self._cache.remember(secret_hash, found, read_at_generation=generation)
        return found

    def revoke(self, secret: str) -> None:
        """Sign out: the session stops working in this process at once."""
        if len(secret) > _MAX_SECRET_LENGTH:
            return
        secret_hash = hash_token(secret)
        with self._sessions.begin() as session:
            session_store.delete_session(session, secret_hash)
        self._cache.revoke_all()

    def _binding(self, secret: str) -> str:
        return hmac.new(secret.encode(), self._admin_hash.encode(), hashlib.sha256).hexdigest()


def _no_session() -> FedopsError:
    return FedopsError(
        ErrorCode.UNAUTHENTICATED,
        "no console session (signed out, expired, or the admin token changed): sign in again "
        "with the admin token (POST /api/v1/session)",
    )
