"""The database-derived families: tasks, rounds, model quality, clients, XAI, FL servers.

Read at scrape time (a custom ``Collector``) from what monitoring and the registry stored,
so every counter is idempotent under resends, survives restarts and is the same whichever
replica answers. Only the monitoring component registers this collector: one scrape target
serves the whole installation and no series comes from two targets.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine

from fedops.api.schemas import TaskStatus
from fedops_services.db.tables import utcnow
from fedops_services.metrics.catalog import CLIENT_PHASES, SERVER_PHASES
from fedops_services.metrics.families import (
    FAITHFULNESS_BOUNDS,
    SECONDS_BOUNDS,
    add_histogram,
    counter,
    gauge,
    histogram,
)
from fedops_services.store import metrics as facts
from fedops_services.store import report_values as names

__all__ = ["TASK_STATUSES", "FlCollector", "PerClient"]

TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
MODEL_METRICS_PER_TASK = 20  # the first 20 of a task's own metrics, by name

_SERVER_PHASE_NAMES = [names.SERVER_PHASE_SECONDS + phase for phase in SERVER_PHASES]
_CLIENT_PHASE_NAMES = [names.CLIENT_PHASE_SECONDS + phase for phase in CLIENT_PHASES]
_SUMMED = (names.ROUND_FAILURES, names.EXAMPLES_TRAINED, names.EXPLANATIONS_GENERATED)


@dataclass(frozen=True)
class PerClient:
    """Per-client series (FEDOPS_METRICS_PER_CLIENT), for at most ``limit`` clients per task."""

    limit: int


class FlCollector(Collector):
    def __init__(self, reads: Engine, heartbeat_timeout: timedelta, per_client: PerClient | None) -> None:
        self._reads = reads
        self._heartbeat_timeout = heartbeat_timeout
        self._per_client = per_client

    def collect(self) -> Iterator[Metric]:
        with self._reads.connect() as connection:
            tasks = facts.task_facts(connection)
            names_of = {task.id: task.name for task in tasks}
            yield from _task_families(tasks)
            yield from _round_families(connection, tasks)
            yield from _client_families(connection, names_of, utcnow() - self._heartbeat_timeout)
            yield from _xai_families(connection, names_of)
            yield from _server_families(connection, names_of)
            if self._per_client is not None:
                yield from _per_client_families(connection, names_of, self._per_client.limit)


def _task_families(tasks: list[facts.TaskFacts]) -> Iterator[Metric]:
    by_status = gauge("fedops_tasks")
    for status in TASK_STATUSES:
        by_status.add_metric([status], float(sum(1 for task in tasks if task.status == status)))
    status_of = gauge("fedops_task_status")
    rounds = gauge("fedops_task_rounds")
    min_clients = gauge("fedops_task_min_clients")
    for task in tasks:
        for status in TASK_STATUSES:
            status_of.add_metric([task.name, status], 1.0 if task.status == status else 0.0)
        if task.rounds is not None:
            rounds.add_metric([task.name], float(task.rounds))
        if task.min_clients is not None:
            min_clients.add_metric([task.name], float(task.min_clients))
    yield from (by_status, status_of, rounds, min_clients)


def _round_families(connection: Connection, tasks: list[facts.TaskFacts]) -> Iterator[Metric]:
    progress = facts.round_progress(connection)
    latest = facts.latest_server_reports(connection)
    durations = facts.values_by_task(connection, names.ROUND_SECONDS)
    histograms = facts.value_histograms(
        connection, [names.ROUND_SECONDS, *_SERVER_PHASE_NAMES, *_CLIENT_PHASE_NAMES], SECONDS_BOUNDS
    )
    sums = facts.value_sums(connection, _SUMMED)
    reporting = facts.clients_in_current_round(connection)
    client_totals = facts.client_totals_of_last_round(connection)

    completed = counter("fedops_rounds_completed_total")
    current = gauge("fedops_round_current")
    last_at = gauge("fedops_round_last_completed_timestamp_seconds")
    duration = histogram("fedops_round_duration_seconds")
    median = gauge("fedops_round_duration_median_seconds")
    phases = histogram("fedops_round_phase_duration_seconds")
    client_phases = histogram("fedops_client_phase_duration_seconds")
    participants = gauge("fedops_round_participants")
    failures = gauge("fedops_round_failures")
    client_failures = counter("fedops_round_client_failures_total")
    reported = gauge("fedops_round_clients_reported")
    straggler = gauge("fedops_round_straggler_ratio")
    loss = gauge("fedops_model_loss")
    accuracy = gauge("fedops_model_accuracy")
    model_metric = gauge("fedops_model_metric")
    examples = counter("fedops_client_examples_trained_total")
    generated = counter("fedops_xai_explanations_generated_total")

    for task in tasks:
        label = [task.name]
        done = progress.get(task.id)
        completed.add_metric(label, float(done.completed if done else 0))
        last_round = done.last_round if done else 0
        current.add_metric(label, float(last_round + 1 if task.status == "running" else last_round))
        if done is not None:
            last_at.add_metric(label, done.last_at.timestamp())
        add_histogram(duration, label, SECONDS_BOUNDS, histograms.get((task.id, names.ROUND_SECONDS)))
        if task.id in durations:
            median.add_metric(label, statistics.median(durations[task.id]))
        for phase, name in zip(SERVER_PHASES, _SERVER_PHASE_NAMES, strict=True):
            add_histogram(phases, [task.name, phase], SECONDS_BOUNDS, histograms.get((task.id, name)))
        for phase, name in zip(CLIENT_PHASES, _CLIENT_PHASE_NAMES, strict=True):
            add_histogram(client_phases, [task.name, phase], SECONDS_BOUNDS, histograms.get((task.id, name)))
        client_failures.add_metric(label, sums.get((task.id, names.ROUND_FAILURES), 0.0))
        examples.add_metric(label, sums.get((task.id, names.EXAMPLES_TRAINED), 0.0))
        generated.add_metric(label, sums.get((task.id, names.EXPLANATIONS_GENERATED), 0.0))
        reported.add_metric(label, float(reporting.get(task.id, 0)))
        ratio = _straggler_ratio(client_totals.get(task.id, []))
        if ratio is not None:
            straggler.add_metric(label, ratio)
        body = latest.get(task.id)
        if body is not None:
            _add_number(participants, label, body.get("num_clients"))
            _add_number(failures, label, body.get("num_failures"))
            _add_number(loss, label, body.get("loss"))
            _add_number(accuracy, label, body.get("accuracy"))
            given = body.get("metrics")
            own: dict[str, Any] = given if isinstance(given, dict) else {}
            for metric_name in sorted(own)[:MODEL_METRICS_PER_TASK]:
                _add_number(model_metric, [task.name, metric_name], own[metric_name])
    yield from (completed, current, last_at, duration, median, phases, participants, failures)
    yield from (client_failures, reported, straggler, loss, accuracy, model_metric, client_phases)
    yield from (examples, generated)


def _straggler_ratio(totals: list[float]) -> float | None:
    if not totals:
        return None
    middle = statistics.median(totals)
    return max(totals) / middle if middle > 0 else None


def _add_number(target: Any, labels: list[str], value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        target.add_metric(labels, float(value))


def _client_families(connection: Connection, names_of: dict[str, str], since: Any) -> Iterator[Metric]:
    counts = facts.client_counts(connection, since=since)
    enrolled = gauge("fedops_clients_enrolled")
    online = gauge("fedops_clients_online")
    training = gauge("fedops_clients_training")
    backlog = gauge("fedops_client_spool_backlog")
    for task_id, name in names_of.items():
        found = counts.get(task_id, facts.ClientCounts(0, 0, 0, 0))
        enrolled.add_metric([name], float(found.enrolled))
        online.add_metric([name], float(found.online))
        training.add_metric([name], float(found.training))
        backlog.add_metric([name], float(found.spool_backlog))
    yield from (enrolled, online, training, backlog)


def _xai_families(connection: Connection, names_of: dict[str, str]) -> Iterator[Metric]:
    stats = facts.artifact_stats(connection, FAITHFULNESS_BOUNDS)
    uploaded = counter("fedops_xai_explanations_uploaded_total")
    size = counter("fedops_xai_uploaded_bytes_total")
    faithfulness = histogram("fedops_xai_faithfulness")
    for task_id, name in names_of.items():
        found = stats.get(task_id)
        uploaded.add_metric([name], float(found.stored if found else 0))
        size.add_metric([name], float(found.bytes if found else 0))
        add_histogram(faithfulness, [name], FAITHFULNESS_BOUNDS, found.faithfulness if found else None)
    yield from (uploaded, size, faithfulness)


def _server_families(connection: Connection, names_of: dict[str, str]) -> Iterator[Metric]:
    health = facts.server_health(connection)
    ready = gauge("fedops_flserver_ready")
    restarts = counter("fedops_flserver_restarts_total")
    last_seen = gauge("fedops_flserver_last_seen_timestamp_seconds")
    for task_id, name in names_of.items():
        server = health.get(task_id)
        if server is None:
            continue
        ready.add_metric([name], 1.0 if server.ready else 0.0)
        restarts.add_metric([name], float(server.restarts))
        if server.last_seen_at is not None:
            last_seen.add_metric([name], server.last_seen_at.timestamp())
    yield from (ready, restarts, last_seen)


def _per_client_families(connection: Connection, names_of: dict[str, str], limit: int) -> Iterator[Metric]:
    clients = [c for c in facts.recent_clients(connection, per_task=limit) if c.task_id in names_of]
    phases = facts.latest_client_phases(connection, [client.client_id for client in clients])
    heartbeat = gauge("fedops_client_last_heartbeat_timestamp_seconds")
    durations = gauge("fedops_client_round_duration_seconds")
    for client in clients:
        task = names_of[client.task_id]
        if client.last_heartbeat_at is not None:
            heartbeat.add_metric([task, client.name], client.last_heartbeat_at.timestamp())
        for phase, seconds in sorted(phases.get(client.client_id, {}).items()):
            durations.add_metric([task, client.name, phase], seconds)
    yield from (heartbeat, durations)
