"""Server management through the local provisioner, with real supervised processes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.helpers import bearer, create_task, enroll, error_code
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


def _status(api: TestClient, task_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/tasks/{task_id}/server")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_ready(api: TestClient, task_id: str) -> dict[str, Any]:
    wait_until(lambda: _status(api, task_id)["ready_replicas"] == 1, timeout=30, what="server ready")
    return _status(api, task_id)


def _server_pid(api: TestClient, task_id: str) -> int | None:
    status_file = Path(api.app.state.services.settings.servers_dir) / task_id / "status.json"  # type: ignore[attr-defined]
    if not status_file.exists():
        return None
    pid = json.loads(status_file.read_text()).get("child_pid")
    return pid if isinstance(pid, int) else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_provision_reaches_ready_and_the_poll_says_so(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])

    provisioned = api.post(f"/api/v1/tasks/{task['id']}/server")
    status = _wait_ready(api, task["id"])

    assert provisioned.status_code == 202
    assert status["replicas"] == 1 and status["available_replicas"] == 1
    assert status["volume_phase"] == "Bound" and status["fleet_address"].startswith("127.0.0.1:")
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "ready"
    state = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(client["credential"])).json()
    assert state["server_ready"] is True and state["fleet_address"] == status["fleet_address"]
    logs = api.get(f"/api/v1/tasks/{task['id']}/server/logs", params={"tail": 50}).json()["lines"]
    assert any("[supervisor] starting" in line for line in logs)


def test_pause_stops_the_process_and_resume_starts_it(api: TestClient) -> None:
    task = create_task(api)
    api.post(f"/api/v1/tasks/{task['id']}/server")
    _wait_ready(api, task["id"])
    first_pid = _server_pid(api, task["id"])

    paused = api.post(f"/api/v1/tasks/{task['id']}/server/pause").json()

    assert paused["paused"] is True and paused["replicas"] == 0 and paused["ready_replicas"] == 0
    assert not _alive(first_pid)
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "provisioning"

    api.post(f"/api/v1/tasks/{task['id']}/server/resume")
    resumed = _wait_ready(api, task["id"])
    assert resumed["paused"] is False and _server_pid(api, task["id"]) != first_pid


def test_a_crashed_server_is_restarted(api: TestClient) -> None:
    task = create_task(api)
    api.post(f"/api/v1/tasks/{task['id']}/server")
    _wait_ready(api, task["id"])
    first_pid = _server_pid(api, task["id"])
    assert first_pid is not None

    os.kill(first_pid, 9)

    wait_until(lambda: _server_pid(api, task["id"]) not in (None, first_pid), timeout=30, what="restart")
    status = _wait_ready(api, task["id"])
    assert "restarted 1 time" in status["reason"]


def test_scaling_resources_rolls_out_and_unsupported_replicas_change_nothing(api: TestClient) -> None:
    task = create_task(api)
    url = f"/api/v1/tasks/{task['id']}/server"
    api.post(url)
    _wait_ready(api, task["id"])
    first_pid = _server_pid(api, task["id"])

    too_many = api.patch(url, json={"replicas": 2})
    bad_gpu = api.patch(url, json={"gpu": "0.5"})
    scaled = api.patch(url, json={"cpu": "2", "memory": "1Gi"})

    assert too_many.status_code == 422 and error_code(too_many) == "unsupported_by_provisioner"
    assert bad_gpu.status_code == 422 and "gpu" in bad_gpu.json()["error"]["message"]
    assert scaled.status_code == 200 and scaled.json()["resources"]["cpu"] == "2"
    revisions = api.get(f"/api/v1/tasks/{task['id']}/revisions").json()["data"]
    assert [r["spec"]["resources"]["cpu"] for r in revisions] == ["1", "2"]
    _wait_ready(api, task["id"])
    assert _server_pid(api, task["id"]) != first_pid  # a rollout: new process with new settings


def test_runs_start_only_on_a_ready_server(api: TestClient) -> None:
    task = create_task(api)
    url = f"/api/v1/tasks/{task['id']}/server"

    not_provisioned = api.post(f"{url}/run")
    api.post(url)
    _wait_ready(api, task["id"])
    started = api.post(f"{url}/run")
    stopped = api.delete(f"{url}/run")

    assert not_provisioned.status_code == 409 and error_code(not_provisioned) == "invalid_state"
    assert started.json()["status"] == "running"
    assert stopped.json()["status"] == "stopped"


def test_delete_removes_processes_and_data(api: TestClient) -> None:
    task = create_task(api)
    api.post(f"/api/v1/tasks/{task['id']}/server")
    _wait_ready(api, task["id"])
    pid = _server_pid(api, task["id"])
    servers_dir = Path(api.app.state.services.settings.servers_dir)  # type: ignore[attr-defined]

    deleted = api.delete(f"/api/v1/tasks/{task['id']}/server")

    assert deleted.status_code == 204
    assert not _alive(pid) and not (servers_dir / task["id"]).exists()
    assert error_code(api.get(f"/api/v1/tasks/{task['id']}/server")) == "server_not_provisioned"
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "created"


def test_deleting_a_task_removes_its_server(api: TestClient) -> None:
    task = create_task(api)
    api.post(f"/api/v1/tasks/{task['id']}/server")
    _wait_ready(api, task["id"])
    pid = _server_pid(api, task["id"])

    assert api.delete(f"/api/v1/tasks/{task['id']}").status_code == 204
    assert not _alive(pid)
