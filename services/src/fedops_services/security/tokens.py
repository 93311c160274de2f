"""Secrets: generation, hashing at rest, recognising their kind by prefix.

Every secret is 32 random bytes, so a plain SHA-256 is a safe at-rest hash (no
password stretching is needed for high-entropy tokens) and lets one indexed lookup find
the owner. The prefix tells which table to look in and makes leaked tokens easy to
recognise by secret scanners.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

__all__ = ["TokenKind", "hash_token", "kind_of", "new_token"]


class TokenKind(StrEnum):
    ADMIN = "fedops_adm_"
    ENROLLMENT = "fedops_enr_"
    CLIENT = "fedops_cli_"
    SERVER = "fedops_srv_"


def new_token(kind: TokenKind) -> str:
    return f"{kind.value}{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def kind_of(token: str) -> TokenKind | None:
    for kind in TokenKind:
        if token.startswith(kind.value):
            return kind
    return None
