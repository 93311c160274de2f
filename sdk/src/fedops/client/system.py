"""System figures a client reports with each round."""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["system_snapshot"]


def system_snapshot() -> dict[str, Any]:
    import psutil
    import torch

    process = psutil.Process()
    snapshot: dict[str, Any] = {
        "cpu_percent": process.cpu_percent(interval=None),
        "rss_bytes": process.memory_info().rss,
    }
    if torch.cuda.is_available():
        snapshot["gpu_memory_bytes"] = int(torch.cuda.memory_allocated())
        with contextlib.suppress(RuntimeError, ModuleNotFoundError):  # needs pynvml
            snapshot["gpu_utilization_percent"] = float(torch.cuda.utilization())
    return snapshot
