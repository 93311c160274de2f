"""Scrape-time aggregates of what monitoring and the registry stored, for ``GET /metrics``.

Each function is one GROUP BY query on a read connection over typed, indexed columns
(the reports' task/kind/round and value columns, clients, artifacts, servers), never
over report bodies except the one latest server report per task. Derived from stored
rows, every count is idempotent under resends and the same on every replica.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, or_, select

from fedops_services.db.tables import ArtifactRow, ClientRow, ReportRow, ServerRow, TaskRow
from fedops_services.store.report_values import (
    CLIENT_PHASE_SECONDS,
    CLIENT_TOTAL_SECONDS,
    KIND_OF,
    value_column,
)

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
    """Each task's server report of its latest round (of that round's attempts, the last
    stored): a report of an older round delivered late never turns the gauges back."""
    latest = _last_server_rounds()
    last_attempt = (
        select(func.max(ReportRow.id))
        .join(latest, and_(latest.c.task_id == ReportRow.task_id, latest.c.round == ReportRow.round))
        .where(ReportRow.kind == "server_round")
        .group_by(ReportRow.task_id)
    )
    query = select(ReportRow.task_id, ReportRow.body).where(ReportRow.id.in_(last_attempt))
    return {task_id: body for task_id, body in connection.execute(query)}


@dataclass(frozen=True)
class Histogram:
    cumulative: tuple[int, ...]  # observations <= each bound, in the bounds' order
    count: int
    total: float


def _kinds(names: Sequence[str]) -> Any:
    return ReportRow.kind.in_(sorted({KIND_OF[name] for name in names}))


def value_histograms(
    connection: Connection, names: Sequence[str], bounds: Sequence[float]
) -> dict[tuple[str, str], Histogram]:
    """Per (task, name): bucket counts of the value column (one SUM(CASE) per bound), for
    the tasks with at least one such value."""
    if not names:
        return {}
    aggregates = []
    for name in names:
        value = value_column(name)
        aggregates += [func.count(value), func.sum(value)]
        aggregates += [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]
    query = select(ReportRow.task_id, *aggregates).where(_kinds(names)).group_by(ReportRow.task_id)
    width = 2 + len(bounds)
    found: dict[tuple[str, str], Histogram] = {}
    columns: list[Any]
    for task_id, *columns in connection.execute(query):
        for index, name in enumerate(names):
            count, total, *counts = columns[index * width : (index + 1) * width]
            if count:
                found[(task_id, name)] = Histogram(
                    tuple(int(b or 0) for b in counts), int(count), float(total or 0.0)
                )
    return found


def value_sums(connection: Connection, names: Sequence[str]) -> dict[tuple[str, str], float]:
    if not names:
        return {}
    sums = [func.sum(value_column(name)) for name in names]
    query = select(ReportRow.task_id, *sums).where(_kinds(names)).group_by(ReportRow.task_id)
    return {
        (task_id, name): float(total)
        for task_id, *totals in connection.execute(query)
        for name, total in zip(names, totals, strict=True)
        if total is not None
    }


def values_by_task(connection: Connection, name: str) -> dict[str, list[float]]:
    """Every value called ``name``, sorted, per task (for medians)."""
    value = value_column(name)
    query = (
        select(ReportRow.task_id, value)
        .where(ReportRow.kind == KIND_OF[name], value.is_not(None))
        .order_by(ReportRow.task_id, value)
    )
    found: defaultdict[str, list[float]] = defaultdict(list)
    for task_id, number in connection.execute(query):
        found[task_id].append(float(number or 0.0))  # never None: filtered above
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
    total = ReportRow.client_total_seconds
    query = (
        select(ReportRow.task_id, total)
        .join(last, and_(last.c.task_id == ReportRow.task_id, last.c.round == ReportRow.round))
        .where(ReportRow.kind == "client_round", total.is_not(None))
    )
    found: defaultdict[str, list[float]] = defaultdict(list)
    for task_id, value in connection.execute(query):
        found[task_id].append(float(value or 0.0))  # never None: filtered above
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
    names = [name for name, kind in KIND_OF.items() if kind == "client_round"]
    timings = [
        name for name in names if name == CLIENT_TOTAL_SECONDS or name.startswith(CLIENT_PHASE_SECONDS)
    ]
    latest = (
        select(func.max(ReportRow.id))
        .where(
            ReportRow.kind == "client_round",
            ReportRow.client_id.in_(client_ids),
            or_(*(value_column(name).is_not(None) for name in timings)),
        )
        .group_by(ReportRow.client_id)
    )
    query = select(ReportRow.client_id, *(value_column(name) for name in timings)).where(
        ReportRow.id.in_(latest)
    )
    found: defaultdict[str, dict[str, float]] = defaultdict(dict)
    for client_id, *values in connection.execute(query):
        if client_id is None:
            continue
        for name, value in zip(timings, values, strict=True):
            if value is not None:
                phase = "total" if name == CLIENT_TOTAL_SECONDS else name.removeprefix(CLIENT_PHASE_SECONDS)
                found[client_id][phase] = float(value)
    return dict(found)
