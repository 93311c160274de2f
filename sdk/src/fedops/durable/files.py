"""Files that are either whole or absent, whatever crashes in between."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["TEMPORARY_SUFFIX", "atomic_write", "sync_directory"]

TEMPORARY_SUFFIX = ".part"  # a crash mid-write leaves at most this sibling behind


def atomic_write(path: Path, content: bytes, *, mode: int = 0o644) -> None:
    """Write to a sibling temporary file (created with ``mode``), flush it to disk, then
    rename it over ``path``: readers see the old content or the new, never half. The
    directory is synced too, so the rename itself survives a power cut."""
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):  # e.g. disk full: leave nothing half-written behind
            temporary.unlink()
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make renames and deletions in ``directory`` durable, in the order they were made."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform where directories cannot be opened: nothing more to do
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a directory; the rename is still atomic
        pass
    finally:
        os.close(descriptor)
