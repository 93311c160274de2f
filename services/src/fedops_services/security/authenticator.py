"""Turn an ``Authorization`` header into a Principal, or refuse with 401."""

from __future__ import annotations

import hmac

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fedops_services.db.tables import utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.security.credential_cache import CredentialCache
from fedops_services.security.principals import Principal, Role
from fedops_services.security.tokens import TokenKind, hash_token, kind_of
from fedops_services.store import credentials as credential_store

__all__ = ["Authenticator"]

_HOW_TO = "send 'Authorization: Bearer <token>' with an admin token or a task's client credential"


class Authenticator:
    """Checks tokens against their stored hashes.

    Client and server credentials found are remembered in ``credentials`` (see
    ``CredentialCache``: the services that replace or delete credentials revoke it).
    """

    def __init__(self, reads: Engine, admin_token: str, credentials: CredentialCache) -> None:
        self._reads = reads  # autocommit: a lookup is one round trip
        self._admin_hash = hash_token(admin_token)
        self._credentials = credentials

    def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        token_hash = hash_token(token)
        kind = kind_of(token)
        if kind is TokenKind.ENROLLMENT:
            return self._enrollment(token_hash)
        if kind in (TokenKind.CLIENT, TokenKind.SERVER):
            principal = self._task_scoped(kind, token_hash)
            if principal is not None:
                return principal
        elif hmac.compare_digest(token_hash, self._admin_hash):
            # FEDOPS_ADMIN_TOKEN may be any string, so admin is the fallback for unprefixed tokens.
            return Principal(Role.ADMIN)
        raise FedopsError(ErrorCode.UNAUTHENTICATED, "the token is not valid (mistyped, revoked or expired)")

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal of a recently seen credential, without I/O; None if unknown."""
        if not authorization or not authorization.startswith(("Bearer fedops_cli_", "Bearer fedops_srv_")):
            return None
        return self._credentials.get(hash_token(authorization[7:].strip()))

    def _task_scoped(self, kind: TokenKind, token_hash: str) -> Principal | None:
        principal = self._credentials.get(token_hash)
        if principal is None:
            generation = self._credentials.generation()
            principal = self._lookup(kind, token_hash)
            if principal is not None:
                self._credentials.remember(token_hash, principal, read_at_generation=generation)
        return principal

    def _lookup(self, kind: TokenKind, token_hash: str) -> Principal | None:
        with Session(self._reads) as session:
            if kind is TokenKind.CLIENT:
                holder = credential_store.client_holding(session, token_hash)
                if holder is None:
                    return None
                task_id, client_id = holder
                return Principal(Role.CLIENT, task_id=task_id, client_id=client_id)
            server_task_id = credential_store.task_of_server_token(session, token_hash)
            return None if server_task_id is None else Principal(Role.SERVER, task_id=server_task_id)

    def _enrollment(self, token_hash: str) -> Principal:
        with Session(self._reads) as session:
            row = credential_store.enrollment_token(session, token_hash)
        usable = row is not None and row.expires_at > utcnow()
        if row is None or not usable or (row.max_uses is not None and row.uses >= row.max_uses):
            raise FedopsError(
                ErrorCode.ENROLLMENT_TOKEN_INVALID,
                "the enrolment token is unknown, expired or used up; ask the operator for a new one",
            )
        return Principal(Role.ENROLLMENT, task_id=row.task_id, token_id=row.id)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise FedopsError(ErrorCode.UNAUTHENTICATED, f"no credentials: {_HOW_TO}")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FedopsError(ErrorCode.UNAUTHENTICATED, f"malformed Authorization header: {_HOW_TO}")
    return token.strip()
