"""The Flower App bundle a run is submitted with: configuration only, no code.

Both components point at code installed where it runs (the fedops ServerApp in the
server image, the fedops ClientApp on edge machines), so the bundle carries no code that
could shadow or go stale in a long-lived executor, and its hash changes only with fedops.
"""

from __future__ import annotations

import hashlib

import fedops_services

__all__ = ["CLIENTAPP", "SERVERAPP", "build_fab"]

SERVERAPP = "fedops_services.flserver.serverapp:app"
CLIENTAPP = "fedops.client.flower_app:app"

_PYPROJECT = f"""\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "fedops-task"
version = "{fedops_services.__version__}"
description = "A fedops federated-learning task"
license = "Apache-2.0"
dependencies = []

[tool.flwr.app]
publisher = "fedops"

[tool.flwr.app.components]
serverapp = "{SERVERAPP}"
clientapp = "{CLIENTAPP}"

[tool.flwr.app.config]
fedops-task-id = ""
"""


def build_fab() -> tuple[bytes, str]:
    """The bundle's bytes and their sha256."""
    from flwr.cli.build import build_fab_from_files

    content, _ = build_fab_from_files({"pyproject.toml": _PYPROJECT.encode()})
    return content, hashlib.sha256(content).hexdigest()
