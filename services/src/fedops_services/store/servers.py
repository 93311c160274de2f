"""Desired and observed state of each task's FL server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fedops_services.db.tables import ServerRow

__all__ = ["get_server", "list_servers", "record_server_seen"]


def get_server(session: Session, task_id: str) -> ServerRow | None:
    return session.get(ServerRow, task_id)


def list_servers(session: Session) -> list[ServerRow]:
    return list(session.scalars(select(ServerRow).order_by(ServerRow.task_id)))


def record_server_seen(session: Session, task_id: str, at: datetime) -> None:
    """The task's FL server reached the registry at ``at`` (no-op without a server row)."""
    session.execute(
        update(ServerRow).where(ServerRow.task_id == task_id).values(last_seen_at=at),
        execution_options={"synchronize_session": False},
    )
