"""Scrape-time aggregates of what monitoring and the registry stored, for ``GET /metrics``.

Each function is one GROUP BY query on a read connection over typed, indexed columns
(the reports' task/kind/round, ``report_values``, clients, artifacts, servers), never
over report bodies except the one latest server report per task. Derived from stored
rows, every count is idempotent under resends and the same on every replica.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, select

from fedops_services.db.tables import ArtifactRow, ClientRow, ReportRow, ReportValueRow, ServerRow, TaskRow
from fedops_services.store.report_values import CLIENT_PHASE_SECONDS, CLIENT_TOTAL_SECONDS

__all__ = [
    "ArtifactStats",
    "ClientCounts",
    "ClientSeen",
    "Histogram",
    "RoundProgress",
    "ServerHealth",
    "TaskFacts",
    "artifact_stats",
    "client_counts",
    "client_totals_of_last_round",
    "clients_in_current_round",
    "latest_client_phases",
    "latest_server_reports",
    "recent_clients",
    "round_progress",
    "server_health",
    "task_facts",
    "value_histograms",
    "value_sums",
    "values_by_task",
]


@dataclass(frozen=True)
class TaskFacts:
    id: str
    name: str
    status: str
    rounds: int | None
    min_clients: int | None


def task_facts(connection: Connection) -> list[TaskFacts]:
    rounds = TaskRow.spec[("rounds",)].as_integer()
    min_clients = TaskRow.spec[("clients", "min_available")].as_integer()
    query = select(TaskRow.id, TaskRow.name, TaskRow.status, rounds, min_clients).order_by(TaskRow.name)
    return [TaskFacts(*row) for row in connection.execute(query)]


@dataclass(frozen=True)
class RoundProgress:
    completed: int  # distinct rounds reported (a round run again after a crash counts once)
    last_round: int
    last_at: datetime


def round_progress(connection: Connection) -> dict[str, RoundProgress]:
    query = (
        select(
            ReportRow.task_id,
            func.count(distinct(ReportRow.round)),
            func.max(ReportRow.round),
            func.max(ReportRow.received_at),
        )
        .where(ReportRow.kind == "server_round")
        .group_by(ReportRow.task_id)
    )
    return {
        task_id: RoundProgress(int(completed), int(last or 0), last_at)
        for task_id, completed, last, last_at in connection.execute(query)
    }


def latest_server_reports(connection: Connection) -> dict[str, dict[str, Any]]:
    """Each task's last stored server report body (the latest completed round)."""
    latest = (
        select(func.max(ReportRow.id)).where(ReportRow.kind == "server_round").group_by(ReportRow.task_id)
    )
    query = select(ReportRow.task_id, ReportRow.body).where(ReportRow.id.in_(latest))
    return {task_id: body for task_id, body in connection.execute(query)}


@dataclass(frozen=True)
class Histogram:
    cumulative: tuple[int, ...]  # observations <= each bound, in the bounds' order
    count: int
    total: float


def value_histograms(
    connection: Connection, names: Sequence[str], bounds: Sequence[float]
) -> dict[tuple[str, str], Histogram]:
    """Per (task, name): bucket counts of ``report_values`` (one SUM(CASE) per bound)."""
    value = ReportValueRow.value
    buckets = [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]
    query = (
        select(ReportValueRow.task_id, ReportValueRow.name, func.count(), func.sum(value), *buckets)
        .where(ReportValueRow.name.in_(names))
        .group_by(ReportValueRow.task_id, ReportValueRow.name)
    )
    return {
        (task_id, name): Histogram(tuple(int(b or 0) for b in counts), int(count), float(total or 0.0))
        for task_id, name, count, total, *counts in connection.execute(query)
    }


def value_sums(connection: Connection, names: Sequence[str]) -> dict[tuple[str, str], float]:
    query = (
        select(ReportValueRow.task_id, ReportValueRow.name, func.sum(ReportValueRow.value))
        .where(ReportValueRow.name.in_(names))
        .group_by(ReportValueRow.task_id, ReportValueRow.name)
    )
    return {(task_id, name): float(total or 0.0) for task_id, name, total in connection.execute(query)}


def values_by_task(connection: Connection, name: str) -> dict[str, list[float]]:
    """Every value called ``name``, sorted, per task (for medians)."""
    query = (
        select(ReportValueRow.task_id, ReportValueRow.value)
        .where(ReportValueRow.name == name)
        .order_by(ReportValueRow.task_id, ReportValueRow.value)
    )
    found: defaultdict[str, list[float]] = defaultdict(list)
    for task_id, value in connection.execute(query):
        found[task_id].append(float(value))
    return dict(found)


def _last_server_rounds() -> Any:
    return (
        select(ReportRow.task_id.label("task_id"), func.max(ReportRow.round).label("round"))
        .where(ReportRow.kind == "server_round")
        .group_by(ReportRow.task_id)
        .subquery()
    )


def clients_in_current_round(connection: Connection) -> dict[str, int]:
    """Per task: clients that reported the round after the last completed one."""
    last = _last_server_rounds()
    query = (
        select(ReportRow.task_id, func.count(distinct(ReportRow.client_id)))
        .select_from(ReportRow)
        .outerjoin(last, last.c.task_id == ReportRow.task_id)
        .where(ReportRow.kind == "client_round", ReportRow.round == func.coalesce(last.c.round, 0) + 1)
        .group_by(ReportRow.task_id)
    )
    return {task_id: int(count) for task_id, count in connection.execute(query)}


def client_totals_of_last_round(connection: Connection) -> dict[str, list[float]]:
    """Per task: the clients' total round times in the last completed round."""
    last = _last_server_rounds()
    query = (
        select(ReportValueRow.task_id, ReportValueRow.value)
        .join(last, and_(last.c.task_id == ReportValueRow.task_id, last.c.round == ReportValueRow.round))
        .where(ReportValueRow.name == CLIENT_TOTAL_SECONDS)
    )
    found: defaultdict[str, list[float]] = defaultdict(list)
    for task_id, value in connection.execute(query):
        found[task_id].append(float(value))
    return dict(found)


@dataclass(frozen=True)
class ClientCounts:
    enrolled: int
    online: int
    training: int
    spool_backlog: int


def client_counts(connection: Connection, *, since: datetime) -> dict[str, ClientCounts]:
    """Per task: enrolled clients, those online (heartbeat at ``since`` or later), those of
    them training, and the spool backlog of all as of their last heartbeats."""
    online = and_(ClientRow.online.is_(True), ClientRow.last_heartbeat_at >= since)
    query = select(
        ClientRow.task_id,
        func.count(),
        func.sum(case((online, 1), else_=0)),
        func.sum(case((and_(online, ClientRow.training.is_(True)), 1), else_=0)),
        func.sum(func.coalesce(ClientRow.spool_backlog, 0)),
    ).group_by(ClientRow.task_id)
    return {
        task_id: ClientCounts(int(enrolled), int(up or 0), int(training or 0), int(backlog or 0))
        for task_id, enrolled, up, training, backlog in connection.execute(query)
    }


@dataclass(frozen=True)
class ArtifactStats:
    stored: int
    bytes: int
    faithfulness: Histogram  # over the images that have a score


def artifact_stats(connection: Connection, bounds: Sequence[float]) -> dict[str, ArtifactStats]:
    score = ArtifactRow.faithfulness
    buckets = [func.sum(case((score <= bound, 1), else_=0)) for bound in bounds]
    query = select(
        ArtifactRow.task_id,
        func.count(),
        func.sum(ArtifactRow.size_bytes),
        func.count(score),
        func.sum(score),
        *buckets,
    ).group_by(ArtifactRow.task_id)
    return {
        task_id: ArtifactStats(
            int(stored),
            int(size or 0),
            Histogram(tuple(int(b or 0) for b in counts), int(scored), float(total or 0.0)),
        )
        for task_id, stored, size, scored, total, *counts in connection.execute(query)
    }


@dataclass(frozen=True)
class ServerHealth:
    ready: bool
    restarts: int
    last_seen_at: datetime | None


def server_health(connection: Connection) -> dict[str, ServerHealth]:
    query = select(ServerRow.task_id, ServerRow.ready, ServerRow.restarts, ServerRow.last_seen_at)
    return {
        task_id: ServerHealth(bool(ready), int(restarts or 0), last_seen)
        for task_id, ready, restarts, last_seen in connection.execute(query)
    }


@dataclass(frozen=True)
class ClientSeen:
    task_id: str
    client_id: str
    name: str
    last_heartbeat_at: datetime | None


def recent_clients(connection: Connection, *, per_task: int) -> list[ClientSeen]:
    """At most ``per_task`` clients of each task: those heard from most recently (never
    heard from last), then by name."""
    never = case((ClientRow.last_heartbeat_at.is_(None), 1), else_=0)
    rank = func.row_number().over(
        partition_by=ClientRow.task_id,
        order_by=(never, ClientRow.last_heartbeat_at.desc(), ClientRow.name),
    )
    ranked = select(
        ClientRow.task_id, ClientRow.id, ClientRow.name, ClientRow.last_heartbeat_at, rank.label("rank")
    ).subquery()
    query = (
        select(ranked.c.task_id, ranked.c.id, ranked.c.name, ranked.c.last_heartbeat_at)
        .where(ranked.c.rank <= per_task)
        .order_by(ranked.c.task_id, ranked.c.name)
    )
    return [ClientSeen(*row) for row in connection.execute(query)]


def latest_client_phases(connection: Connection, client_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per client: the phase times (and ``total``) of its last stored round report."""
    if not client_ids:
        return {}
    is_phase = ReportValueRow.name.startswith(CLIENT_PHASE_SECONDS, autoescape=True)
    is_timing = is_phase | (ReportValueRow.name == CLIENT_TOTAL_SECONDS)
    latest = (
        select(func.max(ReportValueRow.report_pk))
        .where(ReportValueRow.client_id.in_(client_ids), is_timing)
        .group_by(ReportValueRow.client_id)
    )
    query = select(ReportValueRow.client_id, ReportValueRow.name, ReportValueRow.value).where(
        ReportValueRow.report_pk.in_(latest), is_timing
    )
    found: defaultdict[str, dict[str, float]] = defaultdict(dict)
    for client_id, name, value in connection.execute(query):
        if client_id is None:
            continue
        phase = "total" if name == CLIENT_TOTAL_SECONDS else name.removeprefix(CLIENT_PHASE_SECONDS)
        found[client_id][phase] = float(value)
    return dict(found)
