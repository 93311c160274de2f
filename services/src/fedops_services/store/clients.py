"""Enrolment tokens, enrolled clients, and what a client manager polls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from fedops_services.db.tables import (
    ClientRow,
    EnrollmentTokenRow,
    ModelVersionRow,
    ServerRow,
    TaskRow,
    utcnow,
)
from fedops_services.store.ids import new_id

__all__ = [
    "ManagerPollState",
    "claim_enrollment_use",
    "find_client_by_name",
    "find_enrollment_token",
    "get_client",
    "insert_client",
    "insert_enrollment_token",
    "list_clients",
    "manager_poll_state",
    "replace_client_credential",
]


def insert_enrollment_token(
    session: Session, task_id: str, *, token_hash: str, expires_at: datetime, max_uses: int | None
) -> EnrollmentTokenRow:
    row = EnrollmentTokenRow(
        id=new_id(),
        task_id=task_id,
        token_hash=token_hash,
        expires_at=expires_at,
        max_uses=max_uses,
        uses=0,
        created_at=utcnow(),
    )
    session.add(row)
    return row


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


def insert_client(
    session: Session,
    task_id: str,
    *,
    name: str,
    hostname: str,
    credential_hash: str,
    node_public_key: str | None,
) -> ClientRow:
    """A newly enrolled client, not yet heard from.

    Flushed at once: a concurrent enrolment of the same name in the task fails here, with
    ``IntegrityError`` on the (task, name) unique constraint.
    """
    row = ClientRow(
        id=new_id(),
        task_id=task_id,
        name=name,
        hostname=hostname,
        credential_hash=credential_hash,
        enrolled_at=utcnow(),
        last_heartbeat_at=None,
        online=False,
        training=False,
        global_model_version=None,
        node_public_key=node_public_key,
        spool_backlog=None,
    )
    session.add(row)
    session.flush()
    return row


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


@dataclass(frozen=True)
class ManagerPollState:
    task_status: str
    server_ready: bool
    fleet_address: str | None
    latest_model_version: int | None


def manager_poll_state(connection: Connection, task_id: str) -> ManagerPollState | None:
    """The task's status, its server's readiness and address, and its latest model version
    (None if the task does not exist): one indexed query on a read connection, as the
    client-manager poll of every edge machine runs it."""
    latest_version = (
        select(func.max(ModelVersionRow.version))
        .where(ModelVersionRow.task_id == TaskRow.id)
        .correlate(TaskRow)
        .scalar_subquery()
    )
    query = (
        select(TaskRow.status, ServerRow.ready, ServerRow.fleet_address, latest_version)
        .select_from(TaskRow)
        .outerjoin(ServerRow, ServerRow.task_id == TaskRow.id)
        .where(TaskRow.id == task_id)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    status, ready, fleet_address, version = row
    return ManagerPollState(status, bool(ready), fleet_address, version)
