"""Ingest of round and system reports, and the queries over them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import (
    IngestResult,
    Report,
    ReportsPublic,
    RoundPublic,
    RoundsPublic,
    ServerRoundReport,
)
from fedops_services.access import load_task
from fedops_services.db.tables import utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.monitoring.senders import sender_of
from fedops_services.security import Principal, Role
from fedops_services.store import reports as report_store
from fedops_services.store import tasks as task_store

__all__ = ["ReportService"]

_REPORT: TypeAdapter[Report] = TypeAdapter(Report)


class ReportService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_stored: Callable[[Counter[str]], None] | None = None,
        *,
        extract_values: bool = True,
    ) -> None:
        self._sessions = sessions
        self._on_stored = on_stored  # told the new reports' kinds after each commit (metrics)
        # Store each new report's numbers for the FL metrics (FEDOPS_METRICS_FL).
        self._extract_values = extract_values

    def ingest(self, principal: Principal, reports: Sequence[Report]) -> IngestResult:
        """Store a batch whole or not at all; a report resent by its sender counts as a duplicate."""
        for index, report in enumerate(reports):
            _authorize(principal, report, index)
        sender = sender_of(principal)
        unique: dict[tuple[str, str, str], dict[str, Any]] = {}
        now = utcnow()
        for report in reports:
            unique.setdefault((report.task_id, report.kind, report.report_id), _row(report, sender, now))
        task_ids = {task_id for task_id, _, _ in unique}
        with self._sessions.begin() as session:
            if missing := sorted(task_ids - task_store.existing_task_ids(session, task_ids)):
                raise FedopsError(
                    ErrorCode.TASK_NOT_FOUND, f"task_id: no task with id {missing[0]!r}; nothing was stored"
                )
            stored = report_store.insert_reports(
                session, list(unique.values()), extract_values=self._extract_values
            )
        if self._on_stored is not None:
            self._on_stored(stored)
        accepted = stored.total()
        return IngestResult(accepted=accepted, duplicates=len(reports) - accepted)

    def reports(
        self,
        principal: Principal,
        task_id: str,
        *,
        kind: str | None,
        round: int | None,
        client_id: str | None,
        limit: int,
        offset: int,
    ) -> ReportsPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            rows, count = report_store.query_reports(
                session, task_id, kind=kind, round=round, client_id=client_id, limit=limit, offset=offset
            )
            return ReportsPublic(data=[_REPORT.validate_python(r.body) for r in rows], count=count)

    def rounds(self, principal: Principal, task_id: str, *, limit: int, offset: int) -> RoundsPublic:
        """One page of rounds, summarised by the database; each round's latest attempt."""
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            numbers, count = report_store.round_numbers(session, task_id, limit=limit, offset=offset)
            servers = {
                row.round: ServerRoundReport.model_validate(row.body)
                for row in report_store.latest_server_rounds(session, task_id, numbers)
            }
            clients = report_store.client_round_summaries(session, task_id, numbers)
        data = [_round_public(number, servers.get(number), clients.get(number)) for number in numbers]
        return RoundsPublic(data=data, count=count)


def _authorize(principal: Principal, report: Report, index: int) -> None:
    where = f"reports[{index}]"
    if principal.role is Role.ADMIN:
        return
    if principal.role not in (Role.CLIENT, Role.SERVER):
        raise FedopsError(ErrorCode.FORBIDDEN, "reports come from enrolled clients or a task's server")
    if report.task_id != principal.task_id:
        raise FedopsError(ErrorCode.FORBIDDEN, f"{where}.task_id: this credential belongs to another task")
    client_id = getattr(report, "client_id", None)
    if principal.role is Role.CLIENT:
        if report.kind == "server_round":
            raise FedopsError(ErrorCode.FORBIDDEN, f"{where}.kind: a client cannot send server reports")
        if client_id != principal.client_id:
            raise FedopsError(ErrorCode.FORBIDDEN, f"{where}.client_id: a client reports only for itself")
    elif report.kind == "client_round" or client_id is not None:
        raise FedopsError(ErrorCode.FORBIDDEN, f"{where}: a server cannot report for a client")


def _row(report: Report, sender: str, received_at: Any) -> dict[str, Any]:
    return {
        "task_id": report.task_id,
        "report_id": report.report_id,
        "kind": report.kind,
        "sender": sender,
        "round": report.round,
        "client_id": getattr(report, "client_id", None),
        "body": report.model_dump(mode="json"),
        "received_at": received_at,
    }


def _round_public(
    number: int, server: ServerRoundReport | None, clients: report_store.ClientRoundSummary | None
) -> RoundPublic:
    return RoundPublic(
        round=number,
        server=server,
        client_reports=clients.reports if clients else 0,
        mean_client_train_seconds=clients.mean_train_seconds if clients else None,
        mean_client_val_accuracy=clients.mean_val_accuracy if clients else None,
    )
