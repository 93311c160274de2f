"""Prometheus metrics of the services, served at ``GET /metrics``.

``catalog`` names every family fedops exports (the contract of dashboards, alert rules,
the README and the tests); ``exposition`` serves them.
"""

from fedops_services.metrics.exposition import Metrics

__all__ = ["Metrics"]
