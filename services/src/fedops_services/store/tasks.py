"""Tasks and their spec revisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fedops_services.db.tables import TaskRevisionRow, TaskRow, utcnow
from fedops_services.store.ids import new_id

__all__ = [
    "add_revision",
    "delete_task",
    "get_task",
    "insert_task",
    "list_revisions",
    "list_tasks",
    "name_taken",
]


def insert_task(session: Session, name: str, spec: dict[str, Any]) -> TaskRow:
    now = utcnow()
    row = TaskRow(
        id=new_id(),
        name=name,
        status="created",
        status_reason="",
        revision=1,
        spec=spec,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()  # the revision's foreign key needs the task row first
    session.add(TaskRevisionRow(task_id=row.id, revision=1, spec=spec, created_at=now))
    session.flush()
    return row


def name_taken(session: Session, name: str) -> bool:
    return session.scalar(select(func.count()).where(TaskRow.name == name)) != 0


def get_task(session: Session, task_id: str, *, for_update: bool = False) -> TaskRow | None:
    query = select(TaskRow).where(TaskRow.id == task_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def list_tasks(
    session: Session, *, status: str | None, name: str | None, limit: int, offset: int
) -> tuple[list[TaskRow], int]:
    query = select(TaskRow)
    if status is not None:
        query = query.where(TaskRow.status == status)
    if name is not None:
        query = query.where(TaskRow.name.contains(name, autoescape=True))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(TaskRow.created_at, TaskRow.id).limit(limit).offset(offset))
    return list(rows), count


def add_revision(session: Session, task: TaskRow, spec: dict[str, Any]) -> None:
    now = utcnow()
    task.revision += 1
    task.spec = spec
    task.updated_at = now
    session.add(TaskRevisionRow(task_id=task.id, revision=task.revision, spec=spec, created_at=now))
    session.flush()


def list_revisions(session: Session, task_id: str) -> list[TaskRevisionRow]:
    query = select(TaskRevisionRow).where(TaskRevisionRow.task_id == task_id)
    return list(session.scalars(query.order_by(TaskRevisionRow.revision)))


def delete_task(session: Session, task_id: str) -> None:
    session.execute(delete(TaskRow).where(TaskRow.id == task_id))
