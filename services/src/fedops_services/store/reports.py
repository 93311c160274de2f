"""Monitoring reports: idempotent batch insert and queries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fedops_services.db.tables import ReportRow
from fedops_services.store.report_values import insert_values, value_rows

__all__ = [
    "ClientRoundSummary",
    "client_round_summaries",
    "insert_reports",
    "latest_server_rounds",
    "query_reports",
    "round_numbers",
]

_ROUND_KINDS = ("server_round", "client_round")


def insert_reports(
    session: Session, rows: Sequence[dict[str, Any]], *, extract_values: bool = False
) -> Counter[str]:
    """Insert rows, skipping (task, kind, sender, report_id) keys already stored; count the new ones by kind.

    One statement per call: ``ON CONFLICT DO NOTHING`` makes resends and concurrent
    deliveries of the same report harmless without a read first. With ``extract_values``,
    the numbers of the rows actually inserted go to ``report_values`` in the same
    transaction (for metrics), so a resend adds none.
    """
    if not rows:
        return Counter()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ReportRow)
        .on_conflict_do_nothing(index_elements=["task_id", "kind", "sender", "report_id"])
        .returning(ReportRow.id, ReportRow.task_id, ReportRow.kind, ReportRow.sender, ReportRow.report_id)
    )
    inserted = session.execute(statement, list(rows)).all()
    if extract_values and inserted:
        bodies = {(r["task_id"], r["kind"], r["sender"], r["report_id"]): r["body"] for r in rows}
        values = [
            value
            for pk, task_id, kind, sender, report_id in inserted
            for value in value_rows(pk, task_id, kind, bodies[(task_id, kind, sender, report_id)])
        ]
        insert_values(session, values)
    return Counter(kind for _, _, kind, _, _ in inserted)


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
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ReportRow], int]:
    query = _filtered(task_id, kind=kind, round=round, client_id=client_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ReportRow.round, ReportRow.id).limit(limit).offset(offset))
    return list(rows), count


# --- rounds: aggregated by the database, one page of rounds at a time -------------------------
#
# A round can have several attempts (a server that crashed mid-round runs it again, and the
# clients train again): the rounds view shows the latest. For the server that is its last
# stored report of the round; for each client, its last stored report of the round.
# (Senders number the attempts in their report ids, so a retried round is stored as a new report.)


def round_numbers(session: Session, task_id: str, *, limit: int, offset: int) -> tuple[list[int], int]:
    """One page of the rounds that have a server or client report, and how many there are."""
    where = (ReportRow.task_id == task_id, ReportRow.kind.in_(_ROUND_KINDS), ReportRow.round.is_not(None))
    count = session.scalar(select(func.count(distinct(ReportRow.round))).where(*where)) or 0
    page = session.scalars(
        select(ReportRow.round).where(*where).group_by(ReportRow.round).order_by(ReportRow.round)
        .limit(limit).offset(offset)
    )  # fmt: skip
    return [number for number in page if number is not None], count


def _latest_ids(task_id: str, kind: str, rounds: Sequence[int], *per: Any) -> Any:
    """The id of the last stored report of ``kind`` per round (and per ``per`` columns)."""
    return (
        select(func.max(ReportRow.id))
        .where(ReportRow.task_id == task_id, ReportRow.kind == kind, ReportRow.round.in_(rounds))
        .group_by(ReportRow.round, *per)
    )


def latest_server_rounds(session: Session, task_id: str, rounds: Sequence[int]) -> list[ReportRow]:
    """The server's latest report of each of ``rounds`` (at most one row per round)."""
    if not rounds:
        return []
    latest = _latest_ids(task_id, "server_round", rounds)
    return list(session.scalars(select(ReportRow).where(ReportRow.id.in_(latest))))


@dataclass(frozen=True)
class ClientRoundSummary:
    round: int
    reports: int
    mean_train_seconds: float | None
    mean_val_accuracy: float | None


def client_round_summaries(
    session: Session, task_id: str, rounds: Sequence[int]
) -> dict[int, ClientRoundSummary]:
    """Per round: how many clients reported and their means, over each client's latest report."""
    if not rounds:
        return {}
    # Per client, not per sender: an admin may send reports on behalf of several clients.
    latest = _latest_ids(task_id, "client_round", rounds, ReportRow.client_id)
    train = ReportRow.body[("timings", "train")].as_float()
    accuracy = ReportRow.body[("val_accuracy",)].as_float()
    query = (
        select(ReportRow.round, func.count(), func.avg(train), func.avg(accuracy))
        .where(ReportRow.id.in_(latest))
        .group_by(ReportRow.round)
    )
    return {
        number: ClientRoundSummary(
            number,
            int(reports),
            None if mean_train is None else float(mean_train),
            None if mean_accuracy is None else float(mean_accuracy),
        )
        for number, reports, mean_train, mean_accuracy in session.execute(query)
    }
