"""The global model of each round, on the task's volume; written atomically.

A checkpoint is an ``.npz`` of the model's arrays in order (``write``), then
``latest.json`` is replaced to point at it (``commit``): a crash between the two leaves the
previous checkpoint in force, never half a file. After a restart the run resumes from
``latest()``. The ServerApp stages what it owes for a round (its report and model
version, see ``outbox``) between ``write`` and ``commit``, so a committed round always has them.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedops.durable.files import atomic_write

__all__ = ["Checkpoint", "CheckpointStore"]

_KEEP = 3


@dataclass(frozen=True)
class Checkpoint:
    round: int
    path: Path
    arrays: list[np.ndarray]
    sha256: str


class CheckpointStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, round_number: int, arrays: list[np.ndarray], *, name: str | None = None) -> Checkpoint:
        """Write and (unless ``name`` gives it another file) commit in one step."""
        checkpoint = self.write(round_number, arrays, name=name)
        if name is None:
            self.commit(checkpoint)
        return checkpoint

    def write(self, round_number: int, arrays: list[np.ndarray], *, name: str | None = None) -> Checkpoint:
        """The round's file, not yet in force: ``latest()`` still answers the previous one."""
        buffer = io.BytesIO()
        np.savez(buffer, *arrays)
        content = buffer.getvalue()
        path = self.directory / (name or f"round-{round_number:05d}.npz")
        atomic_write(path, content)
        return Checkpoint(round_number, path, arrays, hashlib.sha256(content).hexdigest())

    def commit(self, checkpoint: Checkpoint) -> None:
        """Make ``checkpoint`` the one a restart resumes from (one atomic rename)."""
        pointer = {"round": checkpoint.round, "file": checkpoint.path.name, "sha256": checkpoint.sha256}
        atomic_write(self.directory / "latest.json", json.dumps(pointer).encode())
        self._prune()

    def latest_round(self) -> int:
        """The committed round without loading its arrays (0: none yet)."""
        try:
            return int(json.loads((self.directory / "latest.json").read_text())["round"])
        except (FileNotFoundError, json.JSONDecodeError):
            return 0

    def latest(self) -> Checkpoint | None:
        try:
            pointer = json.loads((self.directory / "latest.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        path = self.directory / pointer["file"]
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != pointer["sha256"]:
            raise RuntimeError(f"checkpoint {path} does not match its recorded hash")
        with np.load(io.BytesIO(content)) as archive:
            arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]
        return Checkpoint(int(pointer["round"]), path, arrays, pointer["sha256"])

    def _prune(self) -> None:
        rounds = sorted(self.directory.glob("round-*.npz"))
        for stale in rounds[:-_KEEP]:
            stale.unlink(missing_ok=True)
