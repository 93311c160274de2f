"""A real federation on loopback: `fedops up`, FL servers (Flower SuperLink), edge clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fedops.api.schemas import TaskPublic
from fedops_services.local_federation import LocalFederation, wait_for
from tests.conftest import ADMIN_TOKEN
from tests.support.processes import processes_with

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


def _ours() -> set[int]:
    return set().union(*(processes_with(marker) for marker in _OUR_PROCESSES))


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    """Every process a test started is gone afterwards (checked, not assumed)."""
    before = _ours()
    yield
    try:
        wait_for(lambda: not (_ours() - before) or None, 60, "the federation's processes to end")
    except TimeoutError:
        left = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
            for pid in _ours() - before
        }
        raise AssertionError(f"processes outlived the test: {left}") from None


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[LocalFederation]:
    running = start_federation(tmp_path)
    try:
        yield running
    finally:
        running.stop()
