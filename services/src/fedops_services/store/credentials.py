"""Who holds a credential: lookups by the hash of a client, server or enrolment token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ClientRow, EnrollmentTokenRow, ServerRow

__all__ = ["client_holding", "enrollment_token", "task_of_server_token"]


def client_holding(session: Session, credential_hash: str) -> tuple[str, str] | None:
    """``(task_id, client_id)`` of the client whose credential has this hash."""
    row = session.execute(
        select(ClientRow.task_id, ClientRow.id).where(ClientRow.credential_hash == credential_hash)
    ).first()
    return None if row is None else (row.task_id, row.id)


def task_of_server_token(session: Session, token_hash: str) -> str | None:
    """The task whose FL server holds the token with this hash."""
    return session.scalar(select(ServerRow.task_id).where(ServerRow.token_hash == token_hash))


def enrollment_token(session: Session, token_hash: str) -> EnrollmentTokenRow | None:
    return session.scalar(select(EnrollmentTokenRow).where(EnrollmentTokenRow.token_hash == token_hash))
