"""Rows to wire models; the one place that knows both shapes."""

from __future__ import annotations

from datetime import datetime, timedelta

from fedops.api.schemas import (
    ClientPublic,
    ModelVersionPublic,
    RevisionPublic,
    TaskProgress,
    TaskPublic,
    TaskStatus,
)
from fedops.spec import TaskSpec
from fedops_services.db.tables import ClientRow, ModelVersionRow, TaskRevisionRow, TaskRow
from fedops_services.store.progress import ClientCounts

__all__ = ["client_public", "model_version_public", "revision_public", "task_public"]


def task_public(row: TaskRow, *, rounds_completed: int, clients: ClientCounts) -> TaskPublic:
    """The task with its progress (``registry.progress`` counts it for a page at once)."""
    status: TaskStatus = row.status  # type: ignore[assignment]  # stored values are TaskStatus
    spec = TaskSpec.model_validate(row.spec)
    return TaskPublic(
        id=row.id,
        name=row.name,
        status=status,
        status_reason=row.status_reason,
        revision=row.revision,
        spec=spec,
        created_at=row.created_at,
        updated_at=row.updated_at,
        progress=TaskProgress(
            rounds_completed=rounds_completed,
            num_rounds=spec.rounds,
            clients=clients.clients,
            online_clients=clients.online,
            training_clients=clients.training,
        ),
    )


def revision_public(row: TaskRevisionRow) -> RevisionPublic:
    return RevisionPublic(
        revision=row.revision, spec=TaskSpec.model_validate(row.spec), created_at=row.created_at
    )


def client_public(row: ClientRow, *, now: datetime, heartbeat_timeout: timedelta) -> ClientPublic:
    recent = row.last_heartbeat_at is not None and now - row.last_heartbeat_at <= heartbeat_timeout
    return ClientPublic(
        id=row.id,
        task_id=row.task_id,
        name=row.name,
        hostname=row.hostname,
        enrolled_at=row.enrolled_at,
        last_heartbeat_at=row.last_heartbeat_at,
        online=row.online and recent,
        training=row.training and recent,
        global_model_version=row.global_model_version,
        node_public_key=row.node_public_key,
        spool_backlog=row.spool_backlog,
    )


def model_version_public(row: ModelVersionRow) -> ModelVersionPublic:
    return ModelVersionPublic(
        task_id=row.task_id,
        version=row.version,
        round=row.round,
        checkpoint_uri=row.checkpoint_uri,
        metadata=row.meta,
        created_at=row.created_at,
        checkpoint_available=row.checkpoint_sha256 is not None,
        checkpoint_size_bytes=row.checkpoint_size,
    )
