"""Monitoring reports: idempotent batch insert and queries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fedops_services.db.tables import ReportRow

__all__ = ["client_round_rows", "insert_reports", "query_reports", "server_round_rows"]


def insert_reports(session: Session, rows: Sequence[dict[str, Any]]) -> Counter[str]:
    """Insert rows, skipping (task_id, report_id) pairs already stored; count the new ones by kind.

    One statement per call: ``ON CONFLICT DO NOTHING`` makes resends and concurrent
    deliveries of the same report harmless without a read first.
    """
    if not rows:
        return Counter()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ReportRow)
        .on_conflict_do_nothing(index_elements=["task_id", "report_id"])
        .returning(ReportRow.kind)
    )
    return Counter(session.scalars(statement, list(rows)).all())


def _filtered(
    task_id: str, *, kind: str | None, round: int | None, client_id: str | None
) -> Select[ReportRow]:
    query = select(ReportRow).where(ReportRow.task_id == task_id)
    if kind is not None:
        query = query.where(ReportRow.kind == kind)
    if round is not None:
        query = query.where(ReportRow.round == round)
    if client_id is not None:
        query = query.where(ReportRow.client_id == client_id)
    return query


def query_reports(
    session: Session,
    task_id: str,
    *,
    kind: str | None = None,
    round: int | None = None,
    client_id: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[ReportRow], int]:
    query = _filtered(task_id, kind=kind, round=round, client_id=client_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ReportRow.round, ReportRow.id).limit(limit).offset(offset))
    return list(rows), count


def server_round_rows(session: Session, task_id: str) -> list[ReportRow]:
    rows, _ = query_reports(session, task_id, kind="server_round", limit=100_000)
    return rows


def client_round_rows(session: Session, task_id: str) -> list[ReportRow]:
    rows, _ = query_reports(session, task_id, kind="client_round", limit=1_000_000)
    return rows
