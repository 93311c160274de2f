"""Files that are either whole or absent, whatever crashes in between."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, content: bytes, *, mode: int = 0o644) -> None:
    """Write to a sibling temporary file (created with ``mode``), flush it to disk, then
    rename it over ``path``: readers see the old content or the new, never half."""
    temporary = path.with_name(path.name + ".part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
