"""Prometheus metrics of the services, served at ``GET /metrics``.

``catalog`` names every family fedops exports (the contract of dashboards, alert rules,
the README and the tests); ``fl`` derives the database families at scrape time, ``http``
counts requests, ``exposition`` serves them all.
"""

from fedops_services.metrics.exposition import Metrics
from fedops_services.metrics.fl import PerClient
from fedops_services.metrics.http import instrument_http

__all__ = ["Metrics", "PerClient", "instrument_http"]
