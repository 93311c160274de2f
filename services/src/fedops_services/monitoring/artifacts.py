"""XAI artifacts: checked images in the artifact files, their metadata in the database."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import ArtifactPublic, ArtifactsPublic
from fedops_services.access import load_task
from fedops_services.artifacts import ArtifactFiles, sniff_image_type
from fedops_services.db.tables import ArtifactRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.monitoring.senders import sender_of
from fedops_services.security import Principal, Role
from fedops_services.store import artifacts as artifact_store
from fedops_services.store import clients as client_store
from fedops_services.store import tasks as task_store
from fedops_services.store.ids import new_id

__all__ = ["ArtifactService", "ArtifactUploadForm"]

logger = logging.getLogger(__name__)

_EXTENSION = {"image/png": "png", "image/jpeg": "jpg"}
_LABEL = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")


@dataclass(frozen=True)
class ArtifactUploadForm:
    round: int
    client_id: str
    class_label: str
    method: str
    layer: str
    artifact_id: str | None
    content: bytes
    faithfulness: float | None = None


class ArtifactService:
    def __init__(self, sessions: sessionmaker[Session], files: ArtifactFiles, max_bytes: int) -> None:
        self._sessions = sessions
        self._files = files  # the image bytes; their metadata rows go through artifact_store
        self.max_bytes = max_bytes

    def remove_orphans(self) -> int:
        """Delete the stored files of tasks that no longer exist; returns how many tasks'."""
        with_files = self._files.top_prefixes()
        if not with_files:
            return 0
        with self._sessions() as session:
            alive = task_store.existing_task_ids(session, with_files)
        for task_id in with_files - alive:
            logger.info("removing the XAI files of deleted task %s", task_id)
            self._files.delete_prefix(task_id)
        return len(with_files - alive)

    def upload(
        self, principal: Principal, task_id: str, form: ArtifactUploadForm
    ) -> tuple[ArtifactPublic, bool]:
        """Store the image; returns (artifact, created). A resent artifact_id is stored once per sender."""
        _check_form(form)
        if principal.role is Role.CLIENT and form.client_id != principal.client_id:
            raise FedopsError(ErrorCode.FORBIDDEN, "client_id: a client uploads only its own explanations")
        if len(form.content) > self.max_bytes:
            raise FedopsError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"file: {len(form.content)} bytes exceeds the limit of {self.max_bytes}",
            )
        content_type = sniff_image_type(form.content)
        if content_type is None:
            raise FedopsError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "file: only JPEG and PNG images are accepted")
        sender = sender_of(principal)
        artifact_id = new_id()
        file_key = f"{task_id}/{form.round}/{artifact_id}.{_EXTENSION[content_type]}"
        file_written = False
        try:
            with self._sessions.begin() as session:
                load_task(session, principal, task_id, Role.CLIENT)
                if client_store.get_client(session, task_id, form.client_id) is None:
                    raise FedopsError(
                        ErrorCode.CLIENT_NOT_FOUND, f"client_id: no client {form.client_id!r} in this task"
                    )
                if form.artifact_id is not None:
                    existing = artifact_store.find_by_key(session, task_id, sender, form.artifact_id)
                    if existing is not None:
                        return _public(existing), False
                row = artifact_store.insert_artifact(
                    session,
                    {
                        "id": artifact_id,
                        "task_id": task_id,
                        "artifact_key": form.artifact_id,
                        "sender": sender,
                        "round": form.round,
                        "client_id": form.client_id,
                        "class_label": form.class_label,
                        "method": form.method,
                        "layer": form.layer,
                        "content_type": content_type,
                        "size_bytes": len(form.content),
                        "sha256": hashlib.sha256(form.content).hexdigest(),
                        "faithfulness": form.faithfulness,
                        "storage_key": file_key,
                        "created_at": utcnow(),
                    },
                )
                if row is None:
                    # A concurrent upload of the same key committed between our lookup and our
                    # insert: this request is a resend and is answered like one.
                    assert form.artifact_id is not None  # rows without a key never conflict
                    existing = artifact_store.find_by_key(session, task_id, sender, form.artifact_id)
                    if existing is None:  # that row went with its task, deleted meanwhile
                        raise FedopsError(ErrorCode.TASK_NOT_FOUND, f"no task with id {task_id!r}")
                    return _public(existing), False
                # The file is written only once the row is this request's, so a lost race
                # stores nothing; the row is committed after the file exists.
                file_written = True  # set first: a partly written file is removed as well
                self._files.put(file_key, form.content)
        except BaseException:
            if file_written:  # the row rolled back (or never committed): no row points at the file
                self._files.delete(file_key)
            raise
        return _public(row), True

    def list_artifacts(
        self,
        principal: Principal,
        task_id: str,
        *,
        round: int | None,
        client_id: str | None,
        limit: int,
        offset: int,
    ) -> ArtifactsPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            rows, count = artifact_store.list_artifacts(
                session, task_id, round=round, client_id=client_id, limit=limit, offset=offset
            )
            return ArtifactsPublic(data=[_public(r) for r in rows], count=count)

    def content(self, principal: Principal, artifact_id: str) -> tuple[bytes, str]:
        with self._sessions() as session:
            row = artifact_store.get_artifact(session, artifact_id)
            if row is None:
                raise FedopsError(ErrorCode.ARTIFACT_NOT_FOUND, f"no artifact with id {artifact_id!r}")
            load_task(session, principal, row.task_id, Role.SERVER, Role.CLIENT)
            # Clients are refused the artifact list, and a client's explanations are derived
            # from its private data: a client reads back only what it sent itself.
            if principal.role is Role.CLIENT and row.sender != sender_of(principal):
                raise FedopsError(ErrorCode.FORBIDDEN, "a client credential reads only the artifacts it sent")
            return self._files.get(row.storage_key), row.content_type


def _check_form(form: ArtifactUploadForm) -> None:
    for name in ("class_label", "method"):
        value = getattr(form, name)
        if not _LABEL.match(value):
            raise FedopsError(
                ErrorCode.VALIDATION_ERROR, f"{name}: use 1-64 letters, digits or _.+- (got {value!r})"
            )
    if form.round < 0:
        raise FedopsError(ErrorCode.VALIDATION_ERROR, "round: must be 0 or more")
    if not 1 <= len(form.layer) <= 128:
        raise FedopsError(ErrorCode.VALIDATION_ERROR, "layer: must be 1-128 characters")


def _public(row: ArtifactRow) -> ArtifactPublic:
    return ArtifactPublic(
        id=row.id,
        task_id=row.task_id,
        round=row.round,
        client_id=row.client_id,
        class_label=row.class_label,
        method=row.method,
        layer=row.layer,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        faithfulness=row.faithfulness,
        created_at=row.created_at,
    )
