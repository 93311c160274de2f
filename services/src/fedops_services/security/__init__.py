"""Tokens, principals, the checks the services apply, and the cache of recent credentials."""

from fedops_services.security.credential_cache import CredentialCache
from fedops_services.security.principals import Principal, Role, require_admin, require_task_scope
from fedops_services.security.tokens import TokenKind, hash_token, kind_of, new_token

__all__ = [
    "CredentialCache",
    "Principal",
    "Role",
    "TokenKind",
    "hash_token",
    "kind_of",
    "new_token",
    "require_admin",
    "require_task_scope",
]
