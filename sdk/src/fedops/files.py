"""Files that are either whole or absent, whatever crashes in between."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, content: bytes) -> None:
    """Write to a sibling temporary file, flush it to disk, then rename it over ``path``."""
    temporary = path.with_name(path.name + ".part")
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
