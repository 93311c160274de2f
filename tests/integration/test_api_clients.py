"""Enrolment, heartbeats, the client-manager poll, global model versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.integration.helpers import bearer, create_task, enroll, error_code


def test_enrolment_heartbeat_and_online_status(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"], name="edge-1")
    as_client = bearer(client["credential"])
    url = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"

    before = api.get(f"/api/v1/tasks/{task['id']}/clients").json()["data"][0]
    beat = api.put(url, json={"online": True, "training": True, "global_model_version": 3}, headers=as_client)
    after = api.get(f"/api/v1/tasks/{task['id']}/clients").json()["data"][0]

    assert before["online"] is False and before["last_heartbeat_at"] is None
    assert beat.status_code == 204
    assert after["online"] is True and after["training"] is True and after["global_model_version"] == 3


def test_online_status_expires_with_the_heartbeat(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    api.put(
        f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat",
        json={"online": True},
        headers=bearer(client["credential"]),
    )
    services = api.app.state.services  # type: ignore[attr-defined]
    with services.engine.begin() as connection:  # the last heartbeat was a minute ago
        connection.execute(
            text("UPDATE clients SET last_heartbeat_at = :at"),
            {"at": datetime.now(UTC) - timedelta(minutes=1)},
        )

    listed = api.get(f"/api/v1/tasks/{task['id']}/clients").json()["data"][0]
    assert listed["online"] is False


def test_re_enrolling_a_name_keeps_the_id_and_replaces_the_credential(api: TestClient) -> None:
    task = create_task(api)
    first = enroll(api, task["id"], name="edge-1")
    token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={}).json()["token"]
    second = api.post(  # the client proves who it is with its current credential
        f"/api/v1/tasks/{task['id']}/clients",
        json={"name": "edge-1", "current_credential": first["credential"]},
        headers=bearer(token),
    ).json()

    assert first["client_id"] == second["client_id"]
    old = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(first["credential"]))
    assert old.status_code == 401
    assert api.get(f"/api/v1/tasks/{task['id']}/clients").json()["count"] == 1


def test_manager_state_has_everything_a_client_manager_needs(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])

    state = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(client["credential"])).json()

    assert state == {
        "task_id": task["id"],
        "task_status": "created",
        "server_ready": False,
        "fleet_address": None,
        "global_model_version": None,
        "heartbeat_interval_seconds": 6.0,
        "client_id": client["client_id"],
        "fleet_root_certificates": None,  # plain HTTP: the embedded default on loopback
        "supernode_auth": False,
    }


def test_model_versions_count_up_and_feed_the_poll(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    url = f"/api/v1/tasks/{task['id']}/models"

    assert error_code(api.get(f"{url}/latest")) == "model_version_not_found"
    for round_number in (1, 2):
        response = api.post(
            url, json={"round": round_number, "checkpoint_uri": f"file:///ckpt/{round_number}.npz"}
        )
        assert response.status_code == 201
    refused = api.post(url, json={"round": 3, "checkpoint_uri": "x"}, headers=bearer(client["credential"]))

    assert [v["version"] for v in api.get(url).json()["data"]] == [1, 2]
    assert api.get(f"{url}/latest").json()["round"] == 2
    assert refused.status_code == 403
    state = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(client["credential"])).json()
    assert state["global_model_version"] == 2


def test_enrolment_keeps_a_valid_node_key_and_refuses_others(api: TestClient) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    def pem(key: object) -> str:
        public = key.public_key()  # type: ignore[attr-defined]
        return str(
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        )

    task = create_task(api)
    token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={}).json()["token"]
    url = f"/api/v1/tasks/{task['id']}/clients"

    p384, edwards = pem(ec.generate_private_key(ec.SECP384R1())), pem(ed25519.Ed25519PrivateKey.generate())
    good = api.post(url, json={"name": "ok", "node_public_key": p384}, headers=bearer(token))
    wrong_curve = api.post(url, json={"name": "ed", "node_public_key": edwards}, headers=bearer(token))
    garbage = api.post(url, json={"name": "junk", "node_public_key": "hello"}, headers=bearer(token))

    assert good.status_code == 201
    assert wrong_curve.status_code == 422 and "node_public_key" in wrong_curve.json()["error"]["message"]
    assert garbage.status_code == 422
    listed = api.get(url).json()["data"]
    assert [c["name"] for c in listed] == ["ok"] and listed[0]["node_public_key"].startswith(
        "-----BEGIN PUBLIC KEY"
    )
