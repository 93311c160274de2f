"""A real federation on loopback: `fedops up`, FL servers (Flower SuperLink), edge clients."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fedops.api.schemas import TaskPublic
from tests.conftest import ADMIN_TOKEN
from tests.support.processes import processes_with
from tooling.local_federation import LocalFederation, wait_for

PROJECT = Path(__file__).resolve().parents[2] / "clients" / "mnist-xai"


def mnist_task(name: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((PROJECT / "task.yaml").read_text())
    document.update(name=name, **changes)
    return document


def run_task(
    federation: LocalFederation, spec: dict[str, Any], clients: int = 2, timeout: float = 300
) -> tuple[TaskPublic, TaskPublic]:
    """Create, provision, start ``clients`` edge clients and a run; the task and how it ended."""
    task = federation.create_task(spec)
    federation.provision(task.id)
    federation.start_clients(task.id, PROJECT, clients)
    federation.api.registry.start_run(task.id)
    return task, federation.wait_until_ended(task.id, timeout=timeout)


def start_federation(root: Path, **env: str) -> LocalFederation:
    federation = LocalFederation(
        root, admin_token=ADMIN_TOKEN, env={"FEDOPS_ROUND_TIMEOUT_SECONDS": "30", **env}
    )
    federation.start_api()
    return federation


_OUR_PROCESSES = (
    b"fedops.client.supernode",
    b"fedops-client",
    b"fedops_services.flserver",
    b"flower-superlink",
    b"flower-superexec",
    b"flwr-serverapp",
)
# Processes this test session started carry its mark: edge clients and `fedops up` inherit
# this variable, and FL servers (whose environment is an allow-list) name their data dir,
# which lies under the session's temporary directory, in their command line or environment
# (FLWR_HOME, PATH). Another session's federations on the same machine are not ours.
_SESSION_VARIABLE = "PYTEST_FEDOPS_SESSION"
os.environ[_SESSION_VARIABLE] = f"{os.getpid()}-{time.time_ns()}"


def _ours(tags: tuple[bytes, ...]) -> set[int]:
    candidates = set().union(*(processes_with(marker) for marker in _OUR_PROCESSES))
    return {pid for pid in candidates if _carries_any(pid, tags)}


def _carries_any(pid: int, tags: tuple[bytes, ...]) -> bool:
    try:
        seen = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # it ended meanwhile
        return False
    return any(tag in seen for tag in tags)


@pytest.fixture(autouse=True)
def nothing_left_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every process a test started is gone afterwards (checked, not assumed)."""
    tags = (os.environ[_SESSION_VARIABLE].encode(), str(tmp_path_factory.getbasetemp()).encode())
    before = _ours(tags)
    yield
    try:
        wait_for(lambda: not (_ours(tags) - before) or None, 60, "the federation's processes to end")
    except TimeoutError:
        left = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
            for pid in _ours(tags) - before
        }
        raise AssertionError(f"processes outlived the test: {left}") from None


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[LocalFederation]:
    running = start_federation(tmp_path)
    try:
        yield running
    finally:
        running.stop()
