"""``FLClientTask(cfg, registration).start()``: the FedOps client API, on fedops.

FedOps projects end their ``client_main.py`` with this call; it keeps working. Where
FedOps read its server from hard-coded settings, this reads the registry URL and the
token from ``cfg.fedops.{registry,token,name,node_config}`` or the environment
(``FEDOPS_URL``, ``FEDOPS_TOKEN``, ``FEDOPS_CLIENT_NAME``, ``FEDOPS_NODE_CONFIG``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fedops.client.config import Config
from fedops.client.project import registration_from_mapping
from fedops.client.runner import RunOptions, run_client

__all__ = ["FLClientTask"]


class FLClientTask:
    def __init__(self, cfg: Mapping[str, Any], registration: Mapping[str, Any]) -> None:
        self.cfg = cfg if isinstance(cfg, Config) else Config(_plain(cfg))
        self.registration = registration_from_mapping(registration)

    def start(self) -> int:
        from flwr.common.config import parse_config_args

        settings = self.cfg.get("fedops") or Config({})
        token = settings.get("token") or os.environ.get("FEDOPS_TOKEN")
        if not token:
            raise SystemExit("set FEDOPS_TOKEN (or cfg.fedops.token) to the task's enrolment token")
        node_config = settings.get("node_config") or os.environ.get("FEDOPS_NODE_CONFIG", "")
        options = RunOptions(
            registry=settings.get("registry") or os.environ.get("FEDOPS_URL", "http://127.0.0.1:8080"),
            token=token,
            name=settings.get("name") or os.environ.get("FEDOPS_CLIENT_NAME"),
            node_config=dict(parse_config_args([node_config])) if node_config else {},
        )
        return run_client(Path.cwd(), options, loaded=(self.cfg, self.registration))


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Hydra's DictConfig (or any mapping) as plain nested dicts."""
    to_container = getattr(type(cfg), "to_container", None)
    if callable(to_container):  # omegaconf: resolve ${...} interpolations first
        resolved: dict[str, Any] = to_container(cfg, resolve=True)
        return resolved
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in cfg.items()}
