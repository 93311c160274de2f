"""Typed clients of the fedops registry and monitoring APIs."""

from fedops.api.http import ApiError, HttpCore
from fedops.api.monitoring import ArtifactUpload, MonitoringClient
from fedops.api.registry import RegistryClient

__all__ = ["ApiError", "ArtifactUpload", "FedopsClient", "HttpCore", "MonitoringClient", "RegistryClient"]


class FedopsClient:
    """Both APIs behind one base URL and credential: ``client.registry``, ``client.monitoring``."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.core = HttpCore(base_url, token, timeout=timeout)
        self.registry = RegistryClient(self.core)
        self.monitoring = MonitoringClient(self.core)

    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> "FedopsClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
