"""A registry restart re-attaches to the servers that run: nothing orphaned or duplicated.

Everything here is real: `fedops up` as a process on PostgreSQL, the fedops FL server
runtime (Flower's SuperLink) supervised by the local provisioner, SIGKILL for the crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fedops.api import FedopsClient
from fedops.spec import TaskSpec
from tests.conftest import ADMIN_TOKEN
from tests.support.processes import pid_running, processes_with, wait_until
from tests.support.stack import FedopsStack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, postgres_database_url: str) -> Iterator[FedopsStack]:
    env = {"FEDOPS_DATABASE_URL": postgres_database_url, "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_stack(tmp_path / "data", env=env) as running:
        yield running


def _processes(servers_dir: Path, task_id: str) -> tuple[int, int]:
    supervisor = json.loads((servers_dir / task_id / "supervisor.pid.json").read_text())["pid"]
    server = json.loads((servers_dir / task_id / "status.json").read_text())["child_pid"]
    return supervisor, server


def _superlinks_for(servers_dir: Path, task_id: str) -> int:
    return len(processes_with(b"flower-superlink", str(servers_dir / task_id).encode()))


def test_registry_restart_keeps_the_server_and_can_stop_it(stack: FedopsStack) -> None:
    servers_dir = stack.data_dir / "servers"
    with FedopsClient(stack.url, ADMIN_TOKEN) as api:
        task = api.registry.create_task(TaskSpec(name="restart-me"))
        api.registry.provision_server(task.id)
        wait_until(lambda: api.registry.server_status(task.id).ready_replicas == 1, timeout=60, what="ready")
        before = _processes(servers_dir, task.id)
        fleet = api.registry.server_status(task.id).fleet_address

    stack.kill()  # SIGKILL: the registry gets no chance to clean up
    assert httpx.get(f"http://{fleet}/health", timeout=5).status_code == 200  # the server kept running
    stack.start()

    with FedopsClient(stack.url, ADMIN_TOKEN) as api:
        status = api.registry.server_status(task.id)
        assert status.ready_replicas == 1 and status.fleet_address == fleet
        assert api.registry.get_task(task.id).status == "ready"
        assert _processes(servers_dir, task.id) == before  # re-attached, not restarted
        assert _superlinks_for(servers_dir, task.id) == 1  # not duplicated

        api.registry.delete_server(task.id)

    for pid in before:
        wait_until(lambda pid=pid: not pid_running(pid), timeout=10, what=f"pid {pid} to end")  # type: ignore[misc]
    assert _superlinks_for(servers_dir, task.id) == 0
