"""The spool backlog a client reports in its heartbeat is kept and shown in its listing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.helpers import bearer, create_task, enroll


def test_the_heartbeat_records_the_spool_backlog(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    beat = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
    listed = f"/api/v1/tasks/{task['id']}/clients"

    assert api.get(listed).json()["data"][0]["spool_backlog"] is None
    assert api.put(beat, json={"spool_backlog": 7}, headers=bearer(client["credential"])).status_code == 204
    assert api.get(listed).json()["data"][0]["spool_backlog"] == 7
    api.put(beat, json={"online": True}, headers=bearer(client["credential"]))  # an older client
    assert api.get(listed).json()["data"][0]["spool_backlog"] == 7
