"""Global model checkpoints: the FL server uploads each version's ``.npz``, people download it.

The FL server keeps only its last few checkpoints on its own volume; monitoring keeps one
file per registered model version, in the artifact files under ``<task>/checkpoints/``, so
deleting a task (or the artifact sweep after a deletion by another process) removes them.
An upload is checked against the SHA-256 the server recorded when it registered the
version, so the file served is the one trained. The body is streamed to a staging file by
the route (never held in memory), then moved in; its row notes hash, size and time.
A staging file left by a process that crashed mid-upload is removed when the service is
built and whenever an upload is stored, once no write has touched it for an hour (one
being received, by this process or another sharing the volume, is written to all along).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from fedops_services.access import load_task
from fedops_services.artifacts import ArtifactFiles
from fedops_services.db.tables import ModelVersionRow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.security import Principal, Role
from fedops_services.store import models as model_store

__all__ = ["CheckpointDownload", "CheckpointService", "StagedCheckpoint"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STAGING_SUFFIX = ".npz.part"
STALE_STAGING_SECONDS = 3600.0

logger = logging.getLogger(__name__)


@dataclass
class StagedCheckpoint:
    """An upload being received: the route writes chunks, the hash is its own."""

    file: BinaryIO
    path: Path


@dataclass(frozen=True)
class CheckpointDownload:
    file: BinaryIO
    size: int
    filename: str


class CheckpointService:
    def __init__(self, sessions: sessionmaker[Session], files: ArtifactFiles, staging_dir: Path) -> None:
        self._sessions = sessions
        self._files = files
        self._staging_dir = staging_dir
        self.remove_stale_staging()

    def remove_stale_staging(self, older_than: float = STALE_STAGING_SECONDS) -> int:
        """Delete staging files no write touched for ``older_than`` seconds: uploads cut by a
        crash. Returns how many went."""
        cutoff, removed = time.time() - older_than, 0
        for path in self._staging_dir.glob(f"*{_STAGING_SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # removed by another process's sweep meanwhile
                continue
            except OSError as exc:
                logger.warning("cannot remove the stale checkpoint upload %s: %s", path, exc)
        if removed:
            logger.info("removed %d checkpoint upload(s) cut short by a crash", removed)
        return removed

    def expected_sha256(self, principal: Principal, task_id: str, version: int) -> str:
        """Before the body is read: may this principal upload it, and which hash must it have.
        The task's own FL server uploads; so may the admin (an admin acts on every task)."""
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            row = _version(session, task_id, version)
            sha256 = row.meta.get("sha256")
            if not isinstance(sha256, str) or not sha256:
                raise FedopsError(
                    ErrorCode.VALIDATION_ERROR,
                    f"model version {version} records no sha256 to check a checkpoint against",
                )
            return sha256.lower()

    @contextmanager
    def staging(self) -> Iterator[StagedCheckpoint]:
        """A staging file next to the stored ones; removed on exit unless ``store`` moved it."""
        self._staging_dir.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=self._staging_dir, suffix=_STAGING_SUFFIX)
        path = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as file:
                yield StagedCheckpoint(file, path)
        finally:
            path.unlink(missing_ok=True)

    def store(
        self,
        principal: Principal,
        task_id: str,
        version: int,
        staged: StagedCheckpoint,
        *,
        sha256: str,
        size: int,
    ) -> bool:
        """Keep the staged file as the version's checkpoint; False when it was stored already.
        Idempotent: a resent upload of the same file changes nothing. Also sweeps the staging
        files of uploads cut short (a long-running service is not restarted to do it)."""
        self.remove_stale_staging()
        staged.file.flush()
        os.fsync(staged.file.fileno())
        with self._sessions.begin() as session:
            load_task(session, principal, task_id, Role.SERVER, for_update=True)
            row = _version(session, task_id, version)
            expected = str(row.meta.get("sha256", "")).lower()
            if sha256 != expected:
                raise FedopsError(
                    ErrorCode.VALIDATION_ERROR,
                    f"body: the file's sha256 {sha256} is not the one model version {version} "
                    f"recorded ({expected})",
                )
            if row.checkpoint_sha256 == sha256:
                return False
            # The file goes in before the row says so; a row that fails to commit leaves a
            # file that the next upload replaces and the task's deletion removes.
            self._files.put_file(_key(task_id, version), staged.path)
            model_store.record_checkpoint(session, row, sha256=sha256, size=size)
            return True

    def download(self, principal: Principal, task_id: str, version: int) -> CheckpointDownload:
        with self._sessions() as session:
            task = load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            row = _version(session, task_id, version)
            if row.checkpoint_sha256 is None or row.checkpoint_size is None:
                raise _not_available(version)
            filename = f"{_UNSAFE.sub('_', task.name).strip('._') or 'task'}-round-{row.round}-v{version}.npz"
            size = row.checkpoint_size
        try:
            file = self._files.open(_key(task_id, version))
        except FileNotFoundError:  # the row committed, the file went (a volume restored from backup)
            raise _not_available(version) from None
        return CheckpointDownload(file, size, filename)


def _version(session: Session, task_id: str, version: int) -> ModelVersionRow:
    row = model_store.get_model_version(session, task_id, version)
    if row is None:
        raise FedopsError(
            ErrorCode.MODEL_VERSION_NOT_FOUND, f"task {task_id!r} has no model version {version}"
        )
    return row


def _key(task_id: str, version: int) -> str:
    return f"{task_id}/checkpoints/v{version:08d}.npz"


def _not_available(version: int) -> FedopsError:
    return FedopsError(
        ErrorCode.CHECKPOINT_NOT_AVAILABLE,
        f"the checkpoint of model version {version} has not been uploaded by the FL server "
        "(it uploads each round's file once registered; older versions may have none)",
    )
