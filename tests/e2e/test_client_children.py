"""A SIGKILLed edge client leaves no SuperNode behind (issue 8: no orphans)."""

from __future__ import annotations

import os
import signal

import pytest

from fedops.child_processes import descendants
from tests.e2e.conftest import PROJECT, mnist_task
from tests.support.processes import pid_running, processes_with, wait_until
from tooling.local_federation import LocalFederation

pytestmark = pytest.mark.slow


def test_a_sigkilled_client_takes_its_supernode_with_it(federation: LocalFederation) -> None:
    task = federation.create_task(mnist_task("client-orphans", rounds=50, xai={"enabled": False}))
    federation.provision(task.id)
    clients = federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)

    def supernodes() -> dict[int, set[int]]:
        marker = processes_with(b"fedops.client.supernode")
        return {client.pid: descendants(client.pid) & marker for client in clients}

    wait_until(lambda: all(supernodes().values()), timeout=180, what="both clients' SuperNodes")
    victim = clients[0]
    family = descendants(victim.pid)

    os.kill(victim.pid, signal.SIGKILL)  # no handler runs: only the kernel can end its children
    victim.wait(timeout=10)

    wait_until(
        lambda: not any(pid_running(pid) for pid in family), timeout=15, what=f"{sorted(family)} to end"
    )
    assert all(pid_running(pid) for pid in supernodes()[clients[1].pid])  # the other client is untouched
