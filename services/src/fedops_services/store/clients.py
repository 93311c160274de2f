"""Enrolment tokens and enrolled clients."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ClientRow, EnrollmentTokenRow

__all__ = ["find_client_by_name", "find_enrollment_token", "get_client", "list_clients"]


def find_enrollment_token(
    session: Session, token_hash: str, *, for_update: bool = False
) -> EnrollmentTokenRow | None:
    query = select(EnrollmentTokenRow).where(EnrollmentTokenRow.token_hash == token_hash)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def find_client_by_name(session: Session, task_id: str, name: str) -> ClientRow | None:
    return session.scalar(select(ClientRow).where(ClientRow.task_id == task_id, ClientRow.name == name))


def get_client(session: Session, task_id: str, client_id: str) -> ClientRow | None:
    return session.scalar(select(ClientRow).where(ClientRow.task_id == task_id, ClientRow.id == client_id))


def list_clients(session: Session, task_id: str) -> list[ClientRow]:
    query = select(ClientRow).where(ClientRow.task_id == task_id).order_by(ClientRow.name)
    return list(session.scalars(query))
