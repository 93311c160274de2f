"""An enrolment token cannot take over an enrolled client (issue 8, defect 3)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.integration.helpers import bearer, create_task, enroll, error_code


def _token(api: TestClient, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.post(f"/api/v1/tasks/{task_id}/enrollment-tokens", json={}).json()
    return body


def _victim_state(api: TestClient, task_id: str) -> Any:
    with api.app.state.services.engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(
            text("SELECT id, credential_hash, hostname, node_public_key FROM clients WHERE task_id = :t"),
            {"t": task_id},
        ).all()


def _uses(api: TestClient, token_id: str) -> int:
    with api.app.state.services.engine.connect() as connection:  # type: ignore[attr-defined]
        uses: int = connection.execute(
            text("SELECT uses FROM enrollment_tokens WHERE id = :id"), {"id": token_id}
        ).scalar_one()
        return uses


def test_an_enrolment_token_cannot_take_over_an_enrolled_name(api: TestClient) -> None:
    task = create_task(api)
    victim = enroll(api, task["id"], name="edge-1")
    before = _victim_state(api, task["id"])
    attacker = _token(api, task["id"])
    url = f"/api/v1/tasks/{task['id']}/clients"

    plain = api.post(url, json={"name": "edge-1", "hostname": "evil"}, headers=bearer(attacker["token"]))
    wrong = api.post(
        url,
        json={"name": "edge-1", "current_credential": "fedops_cli_guessed"},
        headers=bearer(attacker["token"]),
    )

    for refused in (plain, wrong):
        assert refused.status_code == 409 and error_code(refused) == "client_name_taken"
        message = refused.json()["error"]["message"]
        assert "credential" in message and "--name" in message and "admin" in message  # what to do
    assert _victim_state(api, task["id"]) == before  # invalid input changes nothing
    assert _uses(api, attacker["id"]) == 0
    state = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(victim["credential"]))
    assert state.status_code == 200


def test_the_client_itself_re_enrols_with_its_current_credential(api: TestClient) -> None:
    task = create_task(api)
    first = enroll(api, task["id"], name="edge-1")
    token = _token(api, task["id"])

    again = api.post(
        f"/api/v1/tasks/{task['id']}/clients",
        json={"name": "edge-1", "hostname": "reinstalled", "current_credential": first["credential"]},
        headers=bearer(token["token"]),
    )

    assert again.status_code == 201 and again.json()["client_id"] == first["client_id"]
    state_url = f"/api/v1/tasks/{task['id']}/manager-state"
    assert api.get(state_url, headers=bearer(first["credential"])).status_code == 401
    assert api.get(state_url, headers=bearer(again.json()["credential"])).status_code == 200
    listed = api.get(f"/api/v1/tasks/{task['id']}/clients").json()
    assert listed["count"] == 1 and listed["data"][0]["hostname"] == "reinstalled"


def test_an_admin_may_re_enrol_a_name_without_its_credential(api: TestClient) -> None:
    task = create_task(api)
    first = enroll(api, task["id"], name="edge-1")

    again = api.post(f"/api/v1/tasks/{task['id']}/clients", json={"name": "edge-1"})  # admin token

    assert again.status_code == 201 and again.json()["client_id"] == first["client_id"]
    state_url = f"/api/v1/tasks/{task['id']}/manager-state"
    assert api.get(state_url, headers=bearer(first["credential"])).status_code == 401


def test_a_credential_of_another_client_proves_nothing(api: TestClient) -> None:
    task = create_task(api)
    enroll(api, task["id"], name="edge-1")
    other = enroll(api, task["id"], name="edge-2")

    response = api.post(
        f"/api/v1/tasks/{task['id']}/clients",
        json={"name": "edge-1", "current_credential": other["credential"]},
        headers=bearer(_token(api, task["id"])["token"]),
    )

    assert response.status_code == 409 and error_code(response) == "client_name_taken"
