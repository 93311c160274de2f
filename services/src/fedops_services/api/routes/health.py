"""Liveness and readiness probes (no authentication: they reveal nothing)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from fedops_services.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="getHealth")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="getReadiness")
def readyz(services: ServicesDep) -> dict[str, str]:
    with services.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ready"}
