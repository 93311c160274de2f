"""Failures during a run: the server, a client or monitoring goes away, wrong credentials."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from fedops.api import FedopsClient
from fedops.api.schemas import ClientRoundReport, EnrollmentRequest
from tests.e2e.conftest import PROJECT, mnist_task
from tooling.local_federation import LocalFederation, wait_for

pytestmark = pytest.mark.slow


def _server_rounds(federation: LocalFederation, task_id: str) -> list[int]:
    return [r.round for r in federation.api.monitoring.rounds(task_id).data if r.server is not None]


def test_a_killed_server_resumes_from_its_checkpoint(federation: LocalFederation) -> None:
    task = federation.create_task(mnist_task("resume", rounds=3, xai={"enabled": False}))
    federation.provision(task.id)
    federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)
    wait_for(lambda: 1 in _server_rounds(federation, task.id), 180, "round 1")
    first_pid = federation.server_pid(task.id)
    assert first_pid is not None

    os.killpg(first_pid, signal.SIGKILL)  # the whole server process group, as a crashed pod
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    assert federation.server_pid(task.id) != first_pid  # the supervisor restarted it
    assert _server_rounds(federation, task.id) == [1, 2, 3]  # numbering intact, none twice
    # Clients deliver reports in the background: wait for them, then check each round is there once.
    wait_for(lambda: len(_client_rounds(federation, task.id)) >= 6 or None, 60, "the clients' reports")
    assert sorted(r for _, r in _client_rounds(federation, task.id)) == [1, 1, 2, 2, 3, 3]


def test_with_min_train_1_a_killed_client_does_not_stop_the_run(federation: LocalFederation) -> None:
    clients = {"min_available": 1, "min_train": 1, "min_evaluate": 1}
    task = federation.create_task(mnist_task("lose-one", rounds=3, clients=clients, xai={"enabled": False}))
    federation.provision(task.id)
    doomed, survivor = federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)
    wait_for(lambda: 1 in _server_rounds(federation, task.id), 180, "round 1")

    os.killpg(doomed.pid, signal.SIGKILL)
    final = federation.wait_until_ended(task.id, timeout=400)

    assert final.status == "finished", final.status_reason
    assert _server_rounds(federation, task.id) == [1, 2, 3]
    assert survivor.wait(timeout=60) == 0


def test_reports_sent_while_monitoring_is_down_arrive_later_exactly_once(federation: LocalFederation) -> None:
    task = federation.create_task(mnist_task("outage", rounds=3))
    federation.provision(task.id)
    federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)
    wait_for(lambda: 1 in _server_rounds(federation, task.id), 180, "round 1")
    checkpoints = federation.root / "data" / "servers" / task.id / "data" / "checkpoints"

    federation.kill_api()
    wait_for(lambda: (checkpoints / "round-00002.npz").exists(), 180, "round 2 without monitoring")
    federation.start_api()
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    wait_for(lambda: len(_client_rounds(federation, task.id)) >= 6, 60, "spooled reports")
    assert Counter(_client_rounds(federation, task.id)) == {(c, r): 1 for c in _clients(federation, task.id)
                                                           for r in (1, 2, 3)}  # fmt: skip
    assert _server_rounds(federation, task.id) == [1, 2, 3]
    artifacts = federation.api.monitoring.artifacts(task.id).data
    assert len(artifacts) == 60 and len({(a.round, a.client_id, a.class_label) for a in artifacts}) == 60


def _client_rounds(federation: LocalFederation, task_id: str) -> list[tuple[str, int]]:
    reports = federation.api.monitoring.reports(task_id, kind="client_round").data
    return [(r.client_id, r.round) for r in reports if isinstance(r, ClientRoundReport)]


def _clients(federation: LocalFederation, task_id: str) -> list[str]:
    return [c.id for c in federation.api.registry.list_clients(task_id).data]


def _run_client(federation: LocalFederation, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [str(federation.bin / "fedops-client"), "run", str(PROJECT), "--registry", federation.url,
               "--token", token, "--quiet", "--max-wait", "5", *extra]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=federation.env
    )


def test_wrong_or_foreign_credentials_are_refused(federation: LocalFederation, tmp_path: Path) -> None:
    task_a = federation.create_task(mnist_task("task-a"))
    task_b = federation.create_task(mnist_task("task-b"))
    token_a = federation.api.registry.create_enrollment_token(task_a.id).token
    with FedopsClient(federation.url, token_a) as enrolling:
        credential_a = enrolling.registry.enroll(task_a.id, EnrollmentRequest(name="edge-a")).credential

    wrong = _run_client(federation, "fedops_cli_not-a-real-credential")
    foreign = _run_client(federation, credential_a, "--task", task_b.id)

    assert wrong.returncode != 0 and "not valid" in wrong.stderr
    assert foreign.returncode != 0 and "task" in (foreign.stderr + foreign.stdout)
    assert federation.api.registry.list_clients(task_b.id).count == 0
