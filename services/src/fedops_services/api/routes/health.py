"""Liveness and readiness probes and the Prometheus scrape, all without authentication.

They answer at the root whatever FEDOPS_PATH_PREFIX says (kubelets and Prometheus scrape
the pod directly), and only there: with a prefix, an Ingress that forwards only the prefix
does not expose them.

The probes reveal nothing. ``/metrics`` shows task names, model quality and client counts
(client names too with per-client series on): keep the API port away from untrusted
networks or put the scrape behind a proxy; authenticating it is not built yet."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from fedops_services.api.deps import ServicesDep
from fedops_services.api.strict import StrictRoute

router = APIRouter(tags=["health"], route_class=StrictRoute)


@router.get("/healthz", operation_id="getHealth")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="getReadiness")
def readyz(services: ServicesDep) -> dict[str, str]:
    services.check_database()
    return {"status": "ready"}


@router.get("/metrics", operation_id="getMetrics", response_class=Response)
def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus text exposition: process, HTTP and ingest counters; the monitoring component
    adds the FL metrics (labelled by task name; by client name only when enabled)."""
    exposition = services.metrics.exposition(request.app.state.http_metrics)
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)
