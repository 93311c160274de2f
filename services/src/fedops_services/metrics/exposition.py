"""Prometheus metrics of one services process, served at ``GET /metrics``.

Each app gets its own ``CollectorRegistry`` (tests build many apps in one process).
State that lives in the database (tasks by status, clients online) is read at scrape
time by the registry component only, so two scraped components never report it twice;
event counts (reports ingested) are counted where they happen, in monitoring.
"""

from __future__ import annotations

from collections import Counter as KindCounts
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from fedops_services.db.tables import utcnow
from fedops_services.store import clients as client_store
from fedops_services.store import tasks as task_store

__all__ = ["Metrics"]

TASK_STATUSES = ("created", "provisioning", "ready", "running", "finished", "failed", "stopped")


class Metrics:
    def __init__(self, reads: Engine, *, heartbeat_timeout_seconds: float, database_state: bool) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._reports = Counter(
            "fedops_reports_ingested",
            "Round and system reports stored by monitoring (resent duplicates not counted).",
            ["kind"],
            registry=self.registry,
        )
        for kind in ("server_round", "client_round", "system"):
            self._reports.labels(kind)  # present at 0 before the first report
        if database_state:
            self.registry.register(_DatabaseState(reads, timedelta(seconds=heartbeat_timeout_seconds)))

    def reports_ingested(self, kinds: KindCounts[str]) -> None:
        for kind, count in kinds.items():
            self._reports.labels(kind).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _DatabaseState(Collector):
    def __init__(self, reads: Engine, heartbeat_timeout: timedelta) -> None:
        self._reads = reads
        self._heartbeat_timeout = heartbeat_timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = GaugeMetricFamily("fedops_tasks", "Tasks by lifecycle status.", labels=["status"])
        since = utcnow() - self._heartbeat_timeout
        with self._reads.connect() as connection:
            counts = task_store.count_tasks_by_status(connection)
            online = client_store.count_online_clients(connection, since=since)
        for status in TASK_STATUSES:
            tasks.add_metric([status], float(counts.get(status, 0)))
        yield tasks
        yield GaugeMetricFamily(
            "fedops_clients_online", "Enrolled clients whose heartbeat is recent.", value=float(online)
        )
