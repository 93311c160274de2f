"""Typed client of the monitoring API (reports, rounds, XAI artifacts, model checkpoints)."""

from __future__ import annotations

import re
from collections.abc import Sequence
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

    def upload_checkpoint(self, task_id: str, version: int, content: bytes) -> bool:
        """The FL server's upload of a registered version's ``.npz``; False when it was
        stored already (a resend). 422 when its SHA-256 is not the registered one."""
        response = self._core.request(
            "PUT",
            f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint",
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        )
        return response.status_code == 201

    def download_checkpoint(self, task_id: str, version: int, destination: BinaryIO) -> str:
        """Write the version's checkpoint (``numpy.load`` reads it) to ``destination``; returns
        the file name the server suggests. ApiError 404 ``checkpoint_not_available`` when
        the FL server has not uploaded it."""
        response = self._core.download(
            f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint", destination
        )
        found = _FILENAME.search(response.headers.get("content-disposition", ""))
        return found.group(1) if found else f"{task_id}-v{version}.npz"


_FILENAME = re.compile(r'filename="([A-Za-z0-9._-]+)"')
