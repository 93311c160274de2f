"""Tasks and their spec revisions."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from fedops_services.db.tables import TaskRevisionRow, TaskRow, utcnow
from fedops_services.store.ids import new_id

__all__ = [
    "add_revision",
    "count_tasks_by_status",
    "delete_task",
    "existing_task_ids",
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
    """The task; with ``for_update`` locked until the transaction ends, on every backend.

    PostgreSQL locks the row (``SELECT ... FOR UPDATE``). SQLite ignores ``FOR UPDATE``
    and its driver runs a transaction's reads before the first write outside any
    transaction, so a read-check-write there would race; a no-op write first takes the
    database's write lock and the read that follows sees the latest commit.
    """
    query = select(TaskRow).where(TaskRow.id == task_id)
    if for_update:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                update(TaskRow).where(TaskRow.id == task_id).values(revision=TaskRow.revision),
                execution_options={"synchronize_session": False},
            )
        query = query.with_for_update()
    return session.scalar(query.execution_options(populate_existing=for_update))


def existing_task_ids(session: Session, task_ids: Collection[str]) -> set[str]:
    """Those of ``task_ids`` that name a stored task."""
    return set(session.scalars(select(TaskRow.id).where(TaskRow.id.in_(task_ids))))


def count_tasks_by_status(connection: Connection) -> dict[str, int]:
    """How many tasks are in each status that has any; one query on a read connection."""
    counts = connection.execute(select(TaskRow.status, func.count()).group_by(TaskRow.status))
    return {status: count for status, count in counts}


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
    """Store ``spec`` as the task's next revision.

    The number is incremented in the database, not in Python, so concurrent revisions
    get distinct, gapless numbers even when the caller holds no lock.
    """
    now = utcnow()
    session.flush()  # pending changes to the task must not overwrite the increment later
    session.execute(
        update(TaskRow)
        .where(TaskRow.id == task.id)
        .values(revision=TaskRow.revision + 1, spec=spec, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    session.refresh(task)
    session.add(TaskRevisionRow(task_id=task.id, revision=task.revision, spec=spec, created_at=now))
    session.flush()


def list_revisions(
    session: Session, task_id: str, *, limit: int, offset: int
) -> tuple[list[TaskRevisionRow], int]:
    """One page of the task's revisions, oldest first, and how many there are."""
    query = select(TaskRevisionRow).where(TaskRevisionRow.task_id == task_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(TaskRevisionRow.revision).limit(limit).offset(offset))
    return list(rows), count


def delete_task(session: Session, task_id: str) -> None:
    session.execute(delete(TaskRow).where(TaskRow.id == task_id))
