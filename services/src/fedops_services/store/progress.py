"""How far a page of tasks got: rounds done and clients, in one grouped query each.

A list of tasks shows every task's progress; counting per task would cost a query per
row, so each figure is grouped by task over the page's ids.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from fedops_services.db.tables import ClientRow, ReportRow

__all__ = ["ClientCounts", "client_counts", "rounds_completed"]


@dataclass(frozen=True)
class ClientCounts:
    clients: int = 0
    online: int = 0
    training: int = 0


def rounds_completed(session: Session, task_ids: Collection[str]) -> dict[str, int]:
    """Per task, the highest round its FL server reported (tasks without one are absent).
    A round run again after a crash has the same number, so its attempts count once."""
    if not task_ids:
        return {}
    query = (
        select(ReportRow.task_id, func.max(ReportRow.round))
        .where(ReportRow.task_id.in_(task_ids), ReportRow.kind == "server_round")
        .group_by(ReportRow.task_id)
    )
    return {task_id: int(highest or 0) for task_id, highest in session.execute(query)}


def client_counts(
    session: Session, task_ids: Collection[str], *, heard_since: datetime
) -> dict[str, ClientCounts]:
    """Per task: clients enrolled, and those online / training, by ClientPublic's rule: the
    flag its last heartbeat set, if that heartbeat came at ``heard_since`` or later."""
    if not task_ids:
        return {}
    recent = ClientRow.last_heartbeat_at >= heard_since
    query = (
        select(
            ClientRow.task_id,
            func.count(),
            func.sum(case((and_(ClientRow.online.is_(True), recent), 1), else_=0)),
            func.sum(case((and_(ClientRow.training.is_(True), recent), 1), else_=0)),
        )
        .where(ClientRow.task_id.in_(task_ids))
        .group_by(ClientRow.task_id)
    )
    return {
        task_id: ClientCounts(int(total), int(online or 0), int(training or 0))
        for task_id, total, online, training in session.execute(query)
    }
