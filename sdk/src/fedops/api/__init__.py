"""Typed clients of the fedops registry and monitoring APIs."""

from fedops.api.client import FedopsClient
from fedops.api.http import ApiError, HttpCore
from fedops.api.monitoring import ArtifactUpload, MonitoringClient
from fedops.api.paging import all_pages
from fedops.api.registry import RegistryClient

__all__ = [
    "ApiError",
    "ArtifactUpload",
    "FedopsClient",
    "HttpCore",
    "MonitoringClient",
    "RegistryClient",
    "all_pages",
]
