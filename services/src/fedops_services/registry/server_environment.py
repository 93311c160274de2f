"""What a task's FL server is told through its environment."""

from __future__ import annotations

from fedops_services.config import Settings

__all__ = ["runtime_environment"]


def runtime_environment(settings: Settings, task_id: str, task_name: str) -> dict[str, str]:
    """What the FL server of a task is told, built from named settings only: never the
    registry's own environment (its admin token, its database URL). Provisioners pass it
    through an allow-list as well (``provisioners.environment``); its token goes separately,
    as a secret (``ServerDeployment.secret_env``)."""
    env = {
        "FEDOPS_TASK_ID": task_id,
        "FEDOPS_TASK_NAME": task_name,
        "FEDOPS_API_URL": settings.api_url,
        "FEDOPS_MONITORING_URL": settings.monitoring_url or settings.api_url,
        "FEDOPS_ROUND_TIMEOUT_SECONDS": f"{settings.round_timeout_seconds:g}",
        "FEDOPS_WAIT_FOR_CLIENTS_SECONDS": f"{settings.wait_for_clients_seconds:g}",
        "FLWR_TELEMETRY_ENABLED": "0",
    }
    if settings.fleet_tls:
        env |= {
            "FEDOPS_FLEET_TLS_CERT": str(settings.fleet_tls_cert),
            "FEDOPS_FLEET_TLS_KEY": str(settings.fleet_tls_key),
            "FEDOPS_FLEET_TLS_CA": str(settings.fleet_tls_ca),
            "FEDOPS_SUPERNODE_AUTH": "1" if settings.supernode_auth else "0",
        }
    return env
