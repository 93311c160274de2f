"""Authentication and per-task scoping."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.helpers import bearer, create_task, enroll, error_code


def test_no_token_is_401_with_a_code(api: TestClient) -> None:
    response = api.post("/api/v1/tasks", json={"name": "t"}, headers={"Authorization": ""})

    assert response.status_code == 401
    assert error_code(response) == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/api/v1/tasks").json()["count"] == 0


def test_wrong_token_is_401(api: TestClient) -> None:
    for token in ("nope", "fedops_cli_forged", "fedops_srv_forged"):
        response = api.get("/api/v1/tasks", headers=bearer(token))
        assert response.status_code == 401 and error_code(response) == "unauthenticated"


def test_client_credential_works_for_its_own_task_only(api: TestClient) -> None:
    task_a = create_task(api, name="task-a")
    task_b = create_task(api, name="task-b")
    client_a = enroll(api, task_a["id"])
    as_a = bearer(client_a["credential"])

    own = api.get(f"/api/v1/tasks/{task_a['id']}/manager-state", headers=as_a)
    other = api.get(f"/api/v1/tasks/{task_b['id']}/manager-state", headers=as_a)
    heartbeat_other = api.put(
        f"/api/v1/tasks/{task_b['id']}/clients/{client_a['client_id']}/heartbeat", json={}, headers=as_a
    )

    assert own.status_code == 200
    assert other.status_code == 403 and error_code(other) == "forbidden"
    assert heartbeat_other.status_code == 403


def test_client_credential_cannot_administer(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])

    response = api.post("/api/v1/tasks", json={"name": "x"}, headers=bearer(client["credential"]))

    assert response.status_code == 403 and error_code(response) == "forbidden"


def test_enrollment_token_of_one_task_cannot_enrol_into_another(api: TestClient) -> None:
    task_a = create_task(api, name="task-a")
    task_b = create_task(api, name="task-b")
    token_a = api.post(f"/api/v1/tasks/{task_a['id']}/enrollment-tokens", json={}).json()["token"]

    response = api.post(
        f"/api/v1/tasks/{task_b['id']}/clients", json={"name": "edge"}, headers=bearer(token_a)
    )

    assert response.status_code == 403
    assert api.get(f"/api/v1/tasks/{task_b['id']}/clients").json()["count"] == 0


def test_used_up_enrollment_token_is_refused(api: TestClient) -> None:
    task = create_task(api)
    token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={"max_uses": 1}).json()["token"]
    url = f"/api/v1/tasks/{task['id']}/clients"

    first = api.post(url, json={"name": "edge-1"}, headers=bearer(token))
    second = api.post(url, json={"name": "edge-2"}, headers=bearer(token))

    assert first.status_code == 201
    assert second.status_code == 401 and error_code(second) == "enrollment_token_invalid"


def test_secrets_are_stored_hashed(api: TestClient) -> None:
    from sqlalchemy import text

    task = create_task(api)
    client = enroll(api, task["id"])
    services = api.app.state.services  # type: ignore[attr-defined]

    with services.engine.connect() as connection:
        hashes = connection.execute(text("SELECT credential_hash FROM clients")).scalars().all()
    assert client["credential"] not in hashes and len(hashes[0]) == 64
