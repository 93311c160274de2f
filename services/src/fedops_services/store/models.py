"""Global model versions of a task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ModelVersionRow, utcnow

__all__ = ["insert_model_version", "latest_model_version", "list_model_versions"]


def insert_model_version(
    session: Session, task_id: str, *, round: int, checkpoint_uri: str, meta: dict[str, Any]
) -> ModelVersionRow:
    """Versions count up from 1 per task; the primary key makes a concurrent duplicate fail."""
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


def list_model_versions(session: Session, task_id: str) -> list[ModelVersionRow]:
    query = select(ModelVersionRow).where(ModelVersionRow.task_id == task_id)
    return list(session.scalars(query.order_by(ModelVersionRow.version)))


def latest_model_version(session: Session, task_id: str) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(ModelVersionRow.task_id == task_id)
    return session.scalar(query.order_by(ModelVersionRow.version.desc()).limit(1))
