"""/api/v1/monitoring: reports, rounds, XAI artifacts and global model checkpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fedops.api.schemas import (
    DB_INT_MAX,
    ArtifactPublic,
    ArtifactsPublic,
    IngestResult,
    Report,
    ReportBatch,
    ReportsPublic,
    RoundsPublic,
)
from fedops_services.api.deps import PrincipalDep, ServicesDep
from fedops_services.api.routes._common import DEFAULT_LIMIT, ERRORS, Limit, Offset, RoundFilter
from fedops_services.api.strict import CheckpointRoute, StrictRoute
from fedops_services.monitoring.artifacts import ArtifactUploadForm

router = APIRouter(
    prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERRORS, route_class=StrictRoute
)


@router.post("/reports", operation_id="ingestReport")
def ingest_report(report: Report, principal: PrincipalDep, services: ServicesDep) -> IngestResult:
    return services.reports.ingest(principal, [report])


@router.post("/reports/batch", operation_id="ingestReports")
def ingest_reports(batch: ReportBatch, principal: PrincipalDep, services: ServicesDep) -> IngestResult:
    return services.reports.ingest(principal, batch.reports)


@router.get("/tasks/{task_id}/reports", operation_id="listReports")
def list_reports(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    kind: Literal["server_round", "client_round", "system"] | None = None,
    round: RoundFilter = None,
    client_id: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> ReportsPublic:
    return services.reports.reports(
        principal, task_id, kind=kind, round=round, client_id=client_id, limit=limit, offset=offset
    )


@router.get("/tasks/{task_id}/rounds", operation_id="listRounds")
def list_rounds(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> RoundsPublic:
    """Rounds in order; a round run more than once (after a server crash) shows its latest attempt."""
    return services.reports.rounds(principal, task_id, limit=limit, offset=offset)


@router.post(
    "/tasks/{task_id}/artifacts",
    status_code=status.HTTP_201_CREATED,
    operation_id="uploadArtifact",
    responses={
        413: ERRORS[422] | {"description": "File too large"},
        415: ERRORS[422] | {"description": "Not a JPEG or PNG"},
    },
)
def upload_artifact(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="JPEG or PNG; recognised by content")],
    round: Annotated[int, Form(ge=0, le=DB_INT_MAX)],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    class_label: Annotated[str, Form(min_length=1, max_length=64)],
    method: Annotated[str, Form(min_length=1, max_length=32)],
    layer: Annotated[str, Form(min_length=1, max_length=128)],
    artifact_id: Annotated[
        str | None, Form(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    ] = None,
    faithfulness: Annotated[
        float | None,
        Form(description="Confidence kept by the explanation, in [0, 1] (see ArtifactPublic), if computed"),
    ] = None,
) -> ArtifactPublic:
    # Read one byte past the limit: enough to know it is too large without buffering more.
    content = file.file.read(services.artifacts.max_bytes + 1)
    form = ArtifactUploadForm(
        round=round,
        client_id=client_id,
        class_label=class_label,
        method=method,
        layer=layer,
        artifact_id=artifact_id,
        content=content,
        faithfulness=faithfulness,
    )
    artifact, created = services.artifacts.upload(principal, task_id, form)
    if not created:
        response.status_code = status.HTTP_200_OK
    return artifact


@router.get("/tasks/{task_id}/artifacts", operation_id="listArtifacts")
def list_artifacts(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    round: RoundFilter = None,
    client_id: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> ArtifactsPublic:
    return services.artifacts.list_artifacts(
        principal, task_id, round=round, client_id=client_id, limit=limit, offset=offset
    )


@router.get(
    "/artifacts/{artifact_id}/content",
    operation_id="downloadArtifact",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
def download_artifact(artifact_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    content, content_type = services.artifacts.content(principal, artifact_id)
    # Only the two decoded image types are ever served as themselves; nosniff and a sandboxing
    # CSP keep a browser from running anything an image might also be parsed as.
    safe_type = content_type if content_type in ("image/png", "image/jpeg") else "application/octet-stream"
    return Response(content, media_type=safe_type, headers=_CONTENT_HEADERS)


_CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": "inline",
    "Cache-Control": "private, no-store",
}


Version = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The model version's number.")]
_CHUNK = 1024 * 1024


async def upload_checkpoint(
    task_id: str, version: Version, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """The FL server's upload of a version's ``.npz`` (the raw bytes). Its SHA-256 must be the
    one recorded when the version was registered; a resend of the same file is a no-op."""
    checkpoints = services.checkpoints
    # Refused (scope, unknown version) before a byte of the body is read.
    await run_in_threadpool(checkpoints.expected_sha256, principal, task_id, version)
    with checkpoints.staging() as staged:
        digest, size, buffer = hashlib.sha256(), 0, bytearray()

        def hash_and_write(block: bytearray) -> None:
            digest.update(block)
            staged.file.write(block)

        # Streamed to disk: a checkpoint may be hundreds of MiB (bounded by CheckpointRoute).
        # Received chunks are gathered into blocks of _CHUNK, each hashed and written by a
        # worker thread: a write may block on the disk, which the event loop must not wait for.
        async for chunk in request.stream():
            size += len(chunk)
            buffer += chunk
            if len(buffer) >= _CHUNK:
                block, buffer = buffer, bytearray()
                await run_in_threadpool(hash_and_write, block)
        if buffer:
            await run_in_threadpool(hash_and_write, buffer)
        stored = await run_in_threadpool(
            checkpoints.store, principal, task_id, version, staged, sha256=digest.hexdigest(), size=size
        )
    return Response(status_code=status.HTTP_201_CREATED if stored else status.HTTP_204_NO_CONTENT)


router.add_api_route(
    "/tasks/{task_id}/models/{version}/checkpoint",
    upload_checkpoint,
    methods=["PUT"],
    route_class_override=CheckpointRoute,
    operation_id="uploadCheckpoint",
    response_class=Response,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "Stored"},
        204: {"description": "Stored before: the same file"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)


@router.get(
    "/tasks/{task_id}/models/{version}/checkpoint",
    operation_id="downloadCheckpoint",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_checkpoint(
    task_id: str, version: Version, principal: PrincipalDep, services: ServicesDep
) -> StreamingResponse:
    """The version's checkpoint as the FL server wrote it (``numpy.savez``: ``arr_0``...)."""
    download = services.checkpoints.download(principal, task_id, version)
    headers = {
        "Content-Length": str(download.size),
        "Content-Disposition": f'attachment; filename="{download.filename}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(_chunks(download.file), media_type="application/octet-stream", headers=headers)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while chunk := file.read(_CHUNK):
            yield chunk
