"""Typed client of the monitoring API (reports, rounds, XAI artifacts, model checkpoints)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import TypeAdapter

from fedops.api.http import HttpCore
from fedops.api.schemas import (
    ArtifactPublic,
    ArtifactsPublic,
    IngestResult,
    Report,
    ReportsPublic,
    RoundsPublic,
)

__all__ = ["ArtifactUpload", "MonitoringClient"]

_REPORT = TypeAdapter(Report)


class ArtifactUpload:
    """An explanation image and what it explains."""

    def __init__(
        self,
        *,
        task_id: str,
        round: int,
        client_id: str,
        class_label: str,
        method: str,
        layer: str,
        content: bytes,
        filename: str = "image",
        artifact_id: str | None = None,
    ) -> None:
        self.task_id = task_id
        self.fields: dict[str, str] = {
            "round": str(round),
            "client_id": client_id,
            "class_label": class_label,
            "method": method,
            "layer": layer,
        }
        if artifact_id:
            self.fields["artifact_id"] = artifact_id
        self.content = content
        self.filename = filename


class MonitoringClient:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def ingest(self, report: Report) -> IngestResult:
        body = _REPORT.dump_python(report, mode="json")
        return self._core.json("POST", "/api/v1/monitoring/reports", IngestResult, json=body)

    def ingest_batch(self, reports: Sequence[Report]) -> IngestResult:
        body = {"reports": [_REPORT.dump_python(r, mode="json") for r in reports]}
        return self._core.json("POST", "/api/v1/monitoring/reports/batch", IngestResult, json=body)

    def ingest_documents(self, bodies: Sequence[dict[str, Any]]) -> IngestResult:
        """Send already-serialised reports (e.g. from a spool) as one batch."""
        return self._core.json(
            "POST", "/api/v1/monitoring/reports/batch", IngestResult, json={"reports": list(bodies)}
        )

    def upload_fields(self, task_id: str, fields: dict[str, str], content: bytes) -> ArtifactPublic:
        """Upload an image with already-serialised form fields (e.g. from a spool)."""
        return self._core.json(
            "POST",
            f"/api/v1/monitoring/tasks/{task_id}/artifacts",
            ArtifactPublic,
            data=fields,
            files={"file": ("image", content, "application/octet-stream")},
        )

    def rounds(self, task_id: str, *, limit: int = 100, offset: int = 0) -> RoundsPublic:
        """One page of rounds (``count`` is the total); each shows its latest attempt."""
        params = {"limit": limit, "offset": offset}
        return self._core.json(
            "GET", f"/api/v1/monitoring/tasks/{task_id}/rounds", RoundsPublic, params=params
        )

    def reports(
        self,
        task_id: str,
        *,
        kind: str | None = None,
        round: int | None = None,
        client_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> ReportsPublic:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for key, value in (("kind", kind), ("round", round), ("client_id", client_id)):
            if value is not None:
                params[key] = value
        return self._core.json(
            "GET", f"/api/v1/monitoring/tasks/{task_id}/reports", ReportsPublic, params=params
        )

    def upload_artifact(self, upload: ArtifactUpload) -> ArtifactPublic:
        return self._core.json(
            "POST",
            f"/api/v1/monitoring/tasks/{upload.task_id}/artifacts",
            ArtifactPublic,
            data=upload.fields,
            files={"file": (upload.filename, upload.content, "application/octet-stream")},
        )

    def artifacts(
        self,
        task_id: str,
        *,
        round: int | None = None,
        client_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> ArtifactsPublic:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if round is not None:
            params["round"] = round
        if client_id is not None:
            params["client_id"] = client_id
        return self._core.json(
            "GET", f"/api/v1/monitoring/tasks/{task_id}/artifacts", ArtifactsPublic, params=params
        )

    def download_artifact(self, artifact_id: str) -> bytes:
        return self._core.request("GET", f"/api/v1/monitoring/artifacts/{artifact_id}/content").content

    def upload_checkpoint(self, task_id: str, version: int, content: bytes | BinaryIO | Path) -> bool:
        """The FL server's upload of a registered version's ``.npz``; False when it was
        stored already (a resend). 422 when its SHA-256 is not the registered one.

        A path or a binary file (read from its position to its end) is streamed in chunks,
        never held in memory. A stream cannot be sent twice, so the request is made once
        (the core does not retry); give a path to retry: it is opened afresh by each call.
        OSError when the file cannot be opened or read."""
        if isinstance(content, Path):
            with content.open("rb") as file:
                return self._put_checkpoint(task_id, version, file)
        return self._put_checkpoint(task_id, version, content)

    def _put_checkpoint(self, task_id: str, version: int, content: bytes | BinaryIO) -> bool:
        headers = {"Content-Type": "application/octet-stream"}
        body: bytes | Iterator[bytes] = content if isinstance(content, bytes) else _chunks(content)
        length = None if isinstance(content, bytes) else _remaining(content)
        if length is not None:  # else sent chunked
            headers["Content-Length"] = str(length)
        response = self._core.request(
            "PUT",
            f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint",
            content=body,
            headers=headers,
        )
        return response.status_code == 201

    def download_checkpoint(self, task_id: str, version: int, destination: BinaryIO) -> str:
        """Write the version's checkpoint (``numpy.load`` reads it) to ``destination``; returns
        the file name the server suggests when it is a plain ``.npz`` name (else one made
        here from the task and version). ApiError 404 ``checkpoint_not_available`` when
        the FL server has not uploaded it."""
        response = self._core.download(
            f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint", destination
        )
        found = _FILENAME.search(response.headers.get("content-disposition", ""))
        if found:
            return found.group(1)
        return f"{_UNSAFE.sub('_', task_id).lstrip('._-') or 'task'}-v{version}.npz"  # a local name


# A plain name of a .npz file: no directory, no leading dot (a hidden file such as .bashrc).
_FILENAME = re.compile(r'filename="([A-Za-z0-9][A-Za-z0-9._-]*\.npz)"')
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_UPLOAD_CHUNK = 1024 * 1024


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_UPLOAD_CHUNK):
        yield chunk


def _remaining(file: BinaryIO) -> int | None:
    """The bytes left to read in a regular file; None for anything else (a pipe, a buffer)."""
    try:
        info = os.fstat(file.fileno())
        return max(info.st_size - file.tell(), 0) if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError):  # no descriptor (io.UnsupportedOperation is both), or closed
        return None
