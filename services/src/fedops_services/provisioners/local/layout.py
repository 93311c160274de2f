"""Where the local provisioner keeps each task's files (one directory per task)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir", "deployment_file", "lock_file", "log_file", "pid_file", "status_file"]


def deployment_file(task_dir: Path) -> Path:
    """What to run (written by the provisioner, mode 0600: it holds the server token)."""
    return task_dir / "deployment.json"


def pid_file(task_dir: Path) -> Path:
    """The supervisor's pid and the deployment generation it runs (provisioner-written)."""
    return task_dir / "supervisor.pid.json"


def status_file(task_dir: Path) -> Path:
    """What the supervisor is doing (supervisor-written)."""
    return task_dir / "status.json"


def log_file(task_dir: Path) -> Path:
    return task_dir / "logs" / "server.log"


def data_dir(task_dir: Path) -> Path:
    """The task's volume: the server's working directory, checkpoints, Flower state."""
    return task_dir / "data"


def lock_file(task_dir: Path) -> Path:
    return task_dir / ".lock"
