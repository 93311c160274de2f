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

from fedops_services.app import create_app
from fedops_services.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import create_task
from tests.support.processes import wait_until
from tooling.local_federation import kill_supervisors

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


# A server that says why it fails, then exits non-zero (as fedops-server does when its
# SuperLink dies). No braces but the placeholder: the template is formatted.
FAILING_SERVER = (
    "{python} -c \"import sys; print('starting'); print('SuperLink exited with code 3'); sys.exit(4)\""
)


def test_the_status_says_why_a_server_is_not_up(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"server_command": FAILING_SERVER}))
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api:
            task = create_task(api)
            api.post(f"/api/v1/tasks/{task['id']}/server")

            wait_until(
                lambda: "exited with code 4" in _status(api, task["id"])["reason"],
                timeout=30,
                what="the exit in the status",
            )
            status = _status(api, task["id"])
    finally:
        kill_supervisors(settings.servers_dir)

    assert status["ready_replicas"] == 0
    assert "the FL server process exited with code 4: SuperLink exited with code 3" in status["reason"]
