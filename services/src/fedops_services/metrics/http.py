"""HTTP request metrics: ``http_requests_total`` and ``http_request_duration_seconds``.

prometheus-fastapi-instrumentator's middleware finds each request's route template (FastAPI's
included routers too), groups paths no route matches as ``handler="none"`` and status codes
into classes (``2xx``, ``4xx``, ``5xx``). It wraps the whole app, so requests that fedops
refuses before its handlers run (authentication and body limits in ``api/guard.py``, the
screening of ``api/strict.py``, unknown paths, wrong methods, unhandled errors) are counted
with their status class too. Methods are bounded here as well: any method outside HTTP's
usual ones is counted as ``other``, so no request can mint a label value.

The metrics live in the app's own ``CollectorRegistry`` (the library's default closures
would use the process-global one, shared by every app a test process builds).
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info

from fedops_services.metrics.catalog import family

__all__ = ["LATENCY_BOUNDS", "instrument_http"]

LATENCY_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_EXCLUDED = ["^/metrics$"]  # scrapes would dominate the counts


def instrument_http(app: FastAPI) -> CollectorRegistry:
    """Count and time every request of ``app``; returns the registry the metrics live in."""
    registry = CollectorRegistry()
    requests = family("http_requests_total")
    latency = family("http_request_duration_seconds")
    counted = Counter(
        requests.name.removesuffix("_total"), requests.help, list(requests.labels), registry=registry
    )
    timed = Histogram(
        latency.name, latency.help, list(latency.labels), buckets=LATENCY_BOUNDS, registry=registry
    )

    def record(info: Info) -> None:
        method = info.method if info.method in _METHODS else "other"
        labels = (info.modified_handler, method, info.modified_status)
        counted.labels(*labels).inc()
        timed.labels(*labels).observe(info.modified_duration)

    Instrumentator(
        should_group_status_codes=True,
        should_group_untemplated=True,
        excluded_handlers=_EXCLUDED,
    ).add(record).instrument(app)
    return registry
