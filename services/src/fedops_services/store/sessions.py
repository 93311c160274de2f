"""Console sessions: stored by the hash of their secret, removed when signed out or expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ConsoleSessionRow

__all__ = ["delete_expired_sessions", "delete_session", "find_session", "insert_session"]


def insert_session(
    session: Session, secret_hash: str, admin_binding: str, *, created_at: datetime, expires_at: datetime
) -> ConsoleSessionRow:
    row = ConsoleSessionRow(
        secret_hash=secret_hash, admin_binding=admin_binding, created_at=created_at, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return row


def find_session(session: Session, secret_hash: str) -> ConsoleSessionRow | None:
    return session.scalar(select(ConsoleSessionRow).where(ConsoleSessionRow.secret_hash == secret_hash))


def delete_session(session: Session, secret_hash: str) -> bool:
    """Whether a session with this hash existed."""
    result = session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.secret_hash == secret_hash))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, now: datetime) -> int:
    """How many sessions that expired before ``now`` were removed."""
    result = session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
