"""``FedopsClient``: the registry and monitoring clients behind one credential."""

from __future__ import annotations

from fedops.api.http import HttpCore
from fedops.api.monitoring import MonitoringClient
from fedops.api.registry import RegistryClient

__all__ = ["FedopsClient"]


class FedopsClient:
    """Both APIs with one credential: ``client.registry``, ``client.monitoring``.

    They share ``base_url`` (one origin, as edge machines see it through an ingress)
    unless ``monitoring_url`` names where monitoring runs (inside a cluster).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        monitoring_url: str | None = None,
    ) -> None:
        self.core = HttpCore(base_url, token, timeout=timeout)
        self._monitoring_core = (
            HttpCore(monitoring_url, token, timeout=timeout)
            if monitoring_url and monitoring_url != base_url
            else None
        )
        self.registry = RegistryClient(self.core)
        self.monitoring = MonitoringClient(self._monitoring_core or self.core)

    def close(self) -> None:
        self.core.close()
        if self._monitoring_core is not None:
            self._monitoring_core.close()

    def __enter__(self) -> FedopsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
