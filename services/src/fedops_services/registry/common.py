"""Former home of the helpers registry and monitoring share; they live in ``fedops_services.access``."""

from __future__ import annotations

# issue 9: kept for registry/servers.py and tasks.py until the reconciler split lands
from fedops_services.access import load_task

__all__ = ["load_task"]
