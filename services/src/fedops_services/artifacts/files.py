"""Artifact bytes behind an interface; a directory (a volume on Kubernetes) by default.

Only the bytes: the artifacts' metadata rows are in the database (``fedops_services.store``).
XAI images are ``<task>/<round>/<id>.<ext>``; global model checkpoints, too large to hold in
memory, are moved in from a local file and read back as a stream: ``<task>/checkpoints/...``.
Everything of a task is under its id, so deleting the task's prefix removes all of it.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

from fedops.durable.files import atomic_write

__all__ = ["ArtifactDirectory", "ArtifactFiles"]


class ArtifactFiles(ABC):
    """Keys are made by the service (never by clients): ``<task>/<round>/<id>.<ext>``."""

    @abstractmethod
    def put(self, key: str, content: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Move the local file ``source`` in as ``key`` (atomically replacing any previous one)."""

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The content as a file to read in chunks; FileNotFoundError when absent."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def top_prefixes(self) -> set[str]:
        """The first key segments present (task ids)."""


class ArtifactDirectory(ArtifactFiles):
    """Each key a file under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):  # defence in depth: keys are ours already
            raise ValueError(f"artifact key {key!r} escapes the artifact directory")
        return path

    def put(self, key: str, content: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, content)

    def put_file(self, key: str, source: Path) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.incoming")
        shutil.move(source, temporary)  # a rename on the same volume, else a copy
        temporary.replace(path)  # readers see the old file or the whole new one

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        directory = self._path(prefix)
        if directory.is_dir():
            for path in sorted(directory.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            directory.rmdir()

    def top_prefixes(self) -> set[str]:
        return {path.name for path in self.root.iterdir() if path.is_dir()}
