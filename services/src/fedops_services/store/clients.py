"""Enrolment tokens and enrolled clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from fedops_services.db.tables import ClientRow, EnrollmentTokenRow

__all__ = [
    "claim_enrollment_use",
    "find_client_by_name",
    "find_enrollment_token",
    "get_client",
    "list_clients",
    "replace_client_credential",
]


def find_enrollment_token(session: Session, token_hash: str) -> EnrollmentTokenRow | None:
    return session.scalar(select(EnrollmentTokenRow).where(EnrollmentTokenRow.token_hash == token_hash))


def claim_enrollment_use(session: Session, token_id: str, task_id: str, *, now: datetime) -> bool:
    """Count one use of the token, if it is still usable; False if it is used up or expired.

    One conditional UPDATE, so the check and the increment are atomic on every backend:
    PostgreSQL re-evaluates the condition after waiting for a concurrent claim's row lock,
    and on SQLite the statement takes the database's write lock (a ``SELECT ... FOR UPDATE``
    is a no-op there, which let 20 concurrent enrolments share a ``max_uses=1`` token).
    Being the transaction's first write also serialises the rest of the enrolment on SQLite.
    """
    result = session.execute(
        update(EnrollmentTokenRow)
        .where(
            EnrollmentTokenRow.id == token_id,
            EnrollmentTokenRow.task_id == task_id,
            EnrollmentTokenRow.expires_at > now,
            or_(EnrollmentTokenRow.max_uses.is_(None), EnrollmentTokenRow.uses < EnrollmentTokenRow.max_uses),
        )
        .values(uses=EnrollmentTokenRow.uses + 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def replace_client_credential(
    session: Session,
    client_id: str,
    *,
    presented_hash: str | None,
    credential_hash: str,
    hostname: str,
    node_public_key: str | None,
) -> bool:
    """Give the client a new credential and node key; False if ``presented_hash`` (when
    given) is no longer its credential, e.g. a concurrent re-enrolment rotated it first.

    Compare-and-set in one statement, so two machines presenting the same credential
    cannot both win.
    """
    query = update(ClientRow).where(ClientRow.id == client_id)
    if presented_hash is not None:
        query = query.where(ClientRow.credential_hash == presented_hash)
    result = session.execute(
        query.values(
            credential_hash=credential_hash, hostname=hostname, node_public_key=node_public_key
        ).execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def find_client_by_name(session: Session, task_id: str, name: str) -> ClientRow | None:
    return session.scalar(select(ClientRow).where(ClientRow.task_id == task_id, ClientRow.name == name))


def get_client(session: Session, task_id: str, client_id: str) -> ClientRow | None:
    return session.scalar(select(ClientRow).where(ClientRow.task_id == task_id, ClientRow.id == client_id))


def list_clients(session: Session, task_id: str, *, limit: int, offset: int) -> tuple[list[ClientRow], int]:
    """One page of the task's clients by name, and how many there are."""
    query = select(ClientRow).where(ClientRow.task_id == task_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ClientRow.name, ClientRow.id).limit(limit).offset(offset))
    return list(rows), count
