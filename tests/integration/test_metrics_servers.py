"""An FL server restart, as the local provisioner's supervisor does it, reaches /metrics."""

from __future__ import annotations

import os
import signal

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import create_task
from tests.integration.test_local_servers import _server_pid, _wait_ready
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


def _server_samples(api: TestClient, task: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(api.get("/metrics").text)
        if family.name.startswith("fedops_flserver_")
        for sample in family.samples
        if sample.labels.get("task") == task
    }


def test_a_killed_server_counts_one_restart(api: TestClient) -> None:
    task = create_task(api)
    api.post(f"/api/v1/tasks/{task['id']}/server")
    _wait_ready(api, task["id"])
    before = _server_samples(api, task["name"])
    first_pid = _server_pid(api, task["id"])
    assert first_pid is not None

    os.kill(first_pid, signal.SIGKILL)
    wait_until(lambda: _server_pid(api, task["id"]) not in (None, first_pid), timeout=30, what="restart")
    _wait_ready(api, task["id"])
    for _ in range(3):  # observed again and again: counted once
        api.get(f"/api/v1/tasks/{task['id']}/server")
    after = _server_samples(api, task["name"])

    assert before == {"fedops_flserver_ready": 1.0, "fedops_flserver_restarts_total": 0.0}
    assert after == {"fedops_flserver_ready": 1.0, "fedops_flserver_restarts_total": 1.0}
