"""Tokens, principals and the checks the services apply."""

from fedops_services.security.principals import Principal, Role, require_admin, require_task_scope
from fedops_services.security.tokens import TokenKind, hash_token, kind_of, new_token

__all__ = [
    "Principal",
    "Role",
    "TokenKind",
    "hash_token",
    "kind_of",
    "new_token",
    "require_admin",
    "require_task_scope",
]
