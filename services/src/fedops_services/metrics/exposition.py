"""Prometheus metrics of one services process, served at ``GET /metrics``.

Each app gets its own ``CollectorRegistry`` (tests build many apps in one process).
- Process metrics and ``fedops_reports_ingested_total`` (counted where reports are stored,
  after commit, only for rows actually inserted) come from every process.
- The database-derived families (``fl.FlCollector``: tasks, rounds, model quality,
  clients, XAI, FL servers) are read at scrape time by the monitoring component only,
  so two scraped components never export the same series. ``FEDOPS_METRICS_FL=false``
  leaves them out.
- HTTP metrics come from the app's middleware (``http.instrument_http``), in a registry
  of the app's own, and are appended here.
"""

from __future__ import annotations

from collections import Counter as KindCounts
from datetime import timedelta

from prometheus_client import (
    CollectorRegistry,
    Counter,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import Engine

from fedops_services.metrics.catalog import family
from fedops_services.metrics.fl import FlCollector, PerClient

__all__ = ["Metrics"]

# No ``*_created`` series next to each counter: they double the series and no dashboard uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(
        self,
        reads: Engine,
        *,
        heartbeat_timeout_seconds: float,
        database_state: bool,
        per_client: PerClient | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        ingested = family("fedops_reports_ingested_total")
        self._reports = Counter(
            ingested.name.removesuffix("_total"), ingested.help, list(ingested.labels), registry=self.registry
        )
        for kind in ("server_round", "client_round", "system"):
            self._reports.labels(kind)  # present at 0 before the first report
        if database_state:
            timeout = timedelta(seconds=heartbeat_timeout_seconds)
            self.registry.register(FlCollector(reads, timeout, per_client))

    def reports_ingested(self, kinds: KindCounts[str]) -> None:
        for kind, count in kinds.items():
            self._reports.labels(kind).inc(count)

    def exposition(self, *more: CollectorRegistry) -> bytes:
        """This process's metrics, then those of ``more`` registries (the app's HTTP metrics)."""
        return b"".join(generate_latest(registry) for registry in (self.registry, *more))
