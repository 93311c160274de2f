"""Global model versions of a task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ModelVersionRow, utcnow

__all__ = [
    "find_model_version",
    "get_model_version",
    "insert_model_version",
    "latest_model_version",
    "list_model_versions",
    "record_checkpoint",
]


def insert_model_version(
    session: Session, task_id: str, *, round: int, checkpoint_uri: str, meta: dict[str, Any]
) -> ModelVersionRow:
    """Versions count up from 1 per task.

    The next number is read, then written: the caller must hold the task's lock
    (``tasks.get_task(..., for_update=True)``, which locks on SQLite too) so that concurrent
    registrations get distinct, gapless numbers; the primary key is the last defence.
    """
    current = session.scalar(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.task_id == task_id)
    )
    row = ModelVersionRow(
        task_id=task_id,
        version=(current or 0) + 1,
        round=round,
        checkpoint_uri=checkpoint_uri,
        meta=meta,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def find_model_version(
    session: Session, task_id: str, *, round: int, checkpoint_uri: str, meta: dict[str, Any]
) -> ModelVersionRow | None:
    """The version registered before with exactly these values, if any (a retried registration)."""
    query = select(ModelVersionRow).where(
        ModelVersionRow.task_id == task_id,
        ModelVersionRow.round == round,
        ModelVersionRow.checkpoint_uri == checkpoint_uri,
    )
    # Few rows share a round and a file; the metadata (JSON) is compared here, not in SQL.
    return next(
        (row for row in session.scalars(query.order_by(ModelVersionRow.version)) if row.meta == meta), None
    )


def list_model_versions(
    session: Session, task_id: str, *, limit: int, offset: int
) -> tuple[list[ModelVersionRow], int]:
    """One page of the task's versions, oldest first, and how many there are."""
    query = select(ModelVersionRow).where(ModelVersionRow.task_id == task_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ModelVersionRow.version).limit(limit).offset(offset))
    return list(rows), count


def latest_model_version(session: Session, task_id: str) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(ModelVersionRow.task_id == task_id)
    return session.scalar(query.order_by(ModelVersionRow.version.desc()).limit(1))


def get_model_version(session: Session, task_id: str, version: int) -> ModelVersionRow | None:
    return session.get(ModelVersionRow, (task_id, version))


def record_checkpoint(session: Session, row: ModelVersionRow, *, sha256: str, size: int) -> None:
    """Note that the version's checkpoint file is stored (its hash, its size, since when)."""
    row.checkpoint_sha256 = sha256
    row.checkpoint_size = size
    row.checkpoint_stored_at = utcnow()
    session.flush()
