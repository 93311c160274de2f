"""Metadata of XAI artifacts (the bytes are in ``fedops_services.artifacts.ArtifactFiles``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fedops_services.db.tables import ArtifactRow

__all__ = ["find_by_key", "get_artifact", "insert_artifact", "list_artifacts"]


def find_by_key(session: Session, task_id: str, sender: str, key: str) -> ArtifactRow | None:
    """The artifact ``sender`` stored under its own ``key`` (keys are unique per sender)."""
    return session.scalar(
        select(ArtifactRow).where(
            ArtifactRow.task_id == task_id, ArtifactRow.sender == sender, ArtifactRow.artifact_key == key
        )
    )


def insert_artifact(session: Session, values: dict[str, Any]) -> ArtifactRow | None:
    """Insert the artifact; None when its sender already stored one under the same key.

    ``ON CONFLICT DO NOTHING`` (as for reports): two uploads of one key that both found no
    row must not fail on the unique constraint. The loser waits for the winner's commit and
    inserts nothing; ``find_by_key`` in the same transaction then sees the winner's row
    (READ COMMITTED on PostgreSQL; on SQLite the loser holds the write lock by then).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ArtifactRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["task_id", "sender", "artifact_key"])
        .returning(ArtifactRow.id)
    )
    inserted = session.scalar(statement)
    return None if inserted is None else session.get(ArtifactRow, inserted)


def get_artifact(session: Session, artifact_id: str) -> ArtifactRow | None:
    return session.get(ArtifactRow, artifact_id)


def list_artifacts(
    session: Session, task_id: str, *, round: int | None, client_id: str | None, limit: int, offset: int
) -> tuple[list[ArtifactRow], int]:
    """One page, in a stable order, and how many match."""
    query = select(ArtifactRow).where(ArtifactRow.task_id == task_id)
    if round is not None:
        query = query.where(ArtifactRow.round == round)
    if client_id is not None:
        query = query.where(ArtifactRow.client_id == client_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        ArtifactRow.round,
        ArtifactRow.client_id,
        ArtifactRow.class_label,
        ArtifactRow.created_at,
        ArtifactRow.id,
    )
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset))), count
