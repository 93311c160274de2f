"""Tasks as the API shows them, with their progress counted for a whole page at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from fedops.api.schemas import TaskPublic
from fedops_services.db.tables import TaskRow, utcnow
from fedops_services.registry.views import task_public
from fedops_services.store import progress as progress_store

__all__ = ["task_with_progress", "tasks_with_progress"]


def tasks_with_progress(
    session: Session, rows: Sequence[TaskRow], *, heartbeat_timeout: timedelta
) -> list[TaskPublic]:
    """Two grouped queries for the page, whatever its size."""
    ids = [row.id for row in rows]
    rounds = progress_store.rounds_completed(session, ids)
    counts = progress_store.client_counts(session, ids, heard_since=utcnow() - heartbeat_timeout)
    return [
        task_public(row, rounds_completed=rounds.get(row.id, 0), clients=counts.get(row.id, _NONE))
        for row in rows
    ]


def task_with_progress(session: Session, row: TaskRow, *, heartbeat_timeout: timedelta) -> TaskPublic:
    return tasks_with_progress(session, [row], heartbeat_timeout=heartbeat_timeout)[0]


_NONE = progress_store.ClientCounts()
