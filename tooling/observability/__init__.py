"""Grafana dashboards and Prometheus alert rules of fedops, generated from code.

``python -m tooling.observability`` writes them under charts/fedops/files/ (the chart and
docker-compose share that one copy); ``--check`` fails when a committed file differs from
what the code generates. Both use only the metric names of
fedops_services.metrics.catalog.
"""
