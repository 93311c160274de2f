"""What only the local provisioner does: supervise a process and restart it when it dies.

The REST behaviour both provisioners share is in ``test_server_provisioning.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.helpers import create_task
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
