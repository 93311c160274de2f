"""Identifiers of stored objects."""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id() -> str:
    return uuid.uuid4().hex
