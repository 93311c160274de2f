"""Report and artifact ids are unique per sender (issue 8, defect 5), on SQLite and PostgreSQL.

A client must not be able to take an id the server or another client will use, and a
round run again after a crash is new data, not a resend.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from fedops_services.config import Settings
from fedops_services.db import make_engine
from fedops_services.db.migrate import alembic_config
from tests.integration.helpers import bearer, create_task, enroll, upload_image
from tests.integration.test_api_monitoring import client_report
from tests.unit.test_errors_and_sniffing import png_bytes
from tooling.local_federation import wait_for


def _server_report(task_id: str, round_number: int, report_id: str, accuracy: float) -> dict[str, Any]:
    return {
        "kind": "server_round",
        "report_id": report_id,
        "task_id": task_id,
        "round": round_number,
        "accuracy": accuracy,
        "num_clients": 2,
    }


def _server_credential(api: TestClient, settings: Settings, task_id: str) -> str:
    """The task's real server credential: provision it and read what the provisioner hands the
    server (the test's server command is a tiny HTTP server that ignores it)."""
    assert api.post(f"/api/v1/tasks/{task_id}/server").status_code == 202
    deployment = settings.servers_dir / task_id / "deployment.json"
    wait_for(deployment.exists, 30, "the server's deployment")  # written by the reconciler
    token: str = json.loads(deployment.read_text())["secret_env"]["FEDOPS_SERVER_TOKEN"]
    return token


def test_a_client_cannot_take_the_servers_report_id(api: TestClient, settings: Settings) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    as_server = bearer(_server_credential(api, settings, task["id"]))
    squatter = client_report(task["id"], client["client_id"], 1, report_id="server-round-1")

    squatted = api.post("/api/v1/monitoring/reports", json=squatter, headers=bearer(client["credential"]))
    real = _server_report(task["id"], 1, "server-round-1", 0.9)
    stored = api.post("/api/v1/monitoring/reports", json=real, headers=as_server)
    resent = api.post("/api/v1/monitoring/reports", json=real, headers=as_server)

    assert squatted.json() == {"accepted": 1, "duplicates": 0}
    assert stored.json() == {"accepted": 1, "duplicates": 0}
    assert resent.json() == {"accepted": 0, "duplicates": 1}
    rounds = api.get(f"/api/v1/monitoring/tasks/{task['id']}/rounds").json()
    assert rounds["data"][0]["server"]["accuracy"] == 0.9


def test_a_client_cannot_take_another_clients_report_id(api: TestClient) -> None:
    task = create_task(api)
    thief, victim = enroll(api, task["id"], name="thief"), enroll(api, task["id"], name="victim")
    report_id = f"client-{victim['client_id']}-round-1"
    stolen = client_report(task["id"], thief["client_id"], 1, report_id=report_id, val_accuracy=0.1)
    real = client_report(task["id"], victim["client_id"], 1, report_id=report_id, val_accuracy=0.9)

    api.post("/api/v1/monitoring/reports", json=stolen, headers=bearer(thief["credential"]))
    stored = api.post("/api/v1/monitoring/reports", json=real, headers=bearer(victim["credential"])).json()
    resent = api.post("/api/v1/monitoring/reports", json=real, headers=bearer(victim["credential"])).json()

    assert stored == {"accepted": 1, "duplicates": 0}
    assert resent == {"accepted": 0, "duplicates": 1}  # a real resend is still harmless
    reports = api.get(
        f"/api/v1/monitoring/tasks/{task['id']}/reports", params={"client_id": victim["client_id"]}
    ).json()
    assert reports["count"] == 1 and reports["data"][0]["val_accuracy"] == 0.9


def test_a_retried_round_is_stored_and_the_rounds_view_shows_the_latest_attempt(api: TestClient) -> None:
    task = create_task(api)
    clients = [enroll(api, task["id"], name=f"edge-{i}") for i in range(2)]
    first = [
        client_report(task["id"], c["client_id"], 1, report_id=f"client-{c['client_id']}-round-1-run-7",
                      val_accuracy=0.2, timings={"train": 1.0})
        for c in clients
    ]  # fmt: skip
    retried = [
        client_report(task["id"], c["client_id"], 1, report_id=f"client-{c['client_id']}-round-1-run-8",
                      val_accuracy=0.8, timings={"train": 3.0})
        for c in clients
    ]  # fmt: skip
    for report, client in zip(first + retried, clients + clients, strict=True):
        result = api.post("/api/v1/monitoring/reports", json=report, headers=bearer(client["credential"]))
        assert result.json() == {"accepted": 1, "duplicates": 0}
    api.post("/api/v1/monitoring/reports", json=_server_report(task["id"], 1, "server-round-1-run-7", 0.3))
    api.post("/api/v1/monitoring/reports", json=_server_report(task["id"], 1, "server-round-1-run-8", 0.7))

    rounds = api.get(f"/api/v1/monitoring/tasks/{task['id']}/rounds").json()
    stored = api.get(f"/api/v1/monitoring/tasks/{task['id']}/reports", params={"kind": "client_round"})

    assert stored.json()["count"] == 4  # both attempts are kept
    assert rounds["count"] == 1
    (latest,) = rounds["data"]
    assert latest["server"]["accuracy"] == 0.7 and latest["client_reports"] == 2
    assert latest["mean_client_val_accuracy"] == 0.8 and latest["mean_client_train_seconds"] == 3.0


def test_artifact_ids_are_unique_per_sender(api: TestClient) -> None:
    task = create_task(api)
    thief, victim = enroll(api, task["id"], name="thief"), enroll(api, task["id"], name="victim")
    key = f"{victim['client_id']}-r1-c7"

    squatted = upload_image(api, task["id"], thief, png_bytes(), artifact_id=key)
    real = upload_image(api, task["id"], victim, png_bytes(), artifact_id=key)
    resent = upload_image(api, task["id"], victim, png_bytes(), artifact_id=key)

    assert squatted.status_code == 201 and real.status_code == 201
    assert real.json()["client_id"] == victim["client_id"] != squatted.json()["client_id"]
    assert resent.status_code == 200 and resent.json()["id"] == real.json()["id"]


def test_the_migration_gives_existing_rows_their_sender(database_url: str) -> None:
    """Rows stored before the sender existed: a client's get its id, the rest the server."""
    config = alembic_config(database_url)
    command.downgrade(config, "6718d0ac2572")  # the schema before this change
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    task_id, client_id = uuid.uuid4().hex, uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tasks (id, name, status, status_reason, revision, spec, created_at, updated_at)"
                " VALUES (:id, 'old', 'finished', '', 1, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": task_id},
        )
        for report_id, kind, client in (
            ("server-round-1", "server_round", None),
            ("client-round-1", "client_round", client_id),
            ("system-1", "system", None),
        ):
            connection.execute(
                text(
                    "INSERT INTO reports (task_id, report_id, kind, round, client_id, body, received_at)"
                    " VALUES (:task, :rid, :kind, 1, :client, '{}', CURRENT_TIMESTAMP)"
                ),
                {"task": task_id, "rid": report_id, "kind": kind, "client": client},
            )
        connection.execute(
            text(
                "INSERT INTO artifacts (id, task_id, artifact_key, round, client_id, class_label, method,"
                " layer, content_type, size_bytes, sha256, storage_key, created_at) VALUES (:id, :task,"
                " 'k1', 1, :client, '7', 'gradcam', 'conv2', 'image/png', 1, 'x', 'x', CURRENT_TIMESTAMP)"
            ),
            {"id": uuid.uuid4().hex, "task": task_id, "client": client_id},
        )

    command.upgrade(config, "head")

    with engine.begin() as connection:
        senders: dict[str, str] = dict(
            connection.execute(text("SELECT report_id, sender FROM reports")).all()
        )
        artifact_sender = connection.scalar(text("SELECT sender FROM artifacts"))
        # The new key lets the server use an id a client already used, in the same kind.
        connection.execute(
            text(
                "INSERT INTO reports (task_id, report_id, kind, sender, round, body, received_at)"
                " VALUES (:task, 'client-round-1', 'client_round', 'server', 1, '{}', CURRENT_TIMESTAMP)"
            ),
            {"task": task_id},
        )
    engine.dispose()
    assert senders == {"server-round-1": "server", "client-round-1": client_id, "system-1": "server"}
    assert artifact_sender == client_id
