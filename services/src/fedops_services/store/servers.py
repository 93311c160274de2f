"""Desired and observed state of each task's FL server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ServerRow

__all__ = ["get_server", "list_servers"]


def get_server(session: Session, task_id: str) -> ServerRow | None:
    return session.get(ServerRow, task_id)


def list_servers(session: Session) -> list[ServerRow]:
    return list(session.scalars(select(ServerRow).order_by(ServerRow.task_id)))
