"""The FL metrics on ``/metrics``: every catalogued family, with the values of what was
ingested, unchanged by resends, clean for promtool; on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fedops_services.app import create_app
from fedops_services.config import Settings
from fedops_services.db.tables import ServerRow, utcnow
from fedops_services.metrics.catalog import CATALOG
from fedops_services.security import TokenKind, hash_token, new_token
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import bearer, create_task, enroll, upload_image
from tests.unit.test_errors_and_sniffing import png_bytes

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# prometheus_client's standard process metrics come with every exposition; the catalog lists fedops' own.
STANDARD_PREFIXES = ("process_", "python_")
PHASES = {"wait": 0.2, "load": 0.1, "train": 1.5, "evaluate": 0.3, "xai": 0.4, "upload": 0.05}


@contextmanager
def serving(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    """The app without its reconcile loop: the server rows these tests add have no process."""
    app = create_app(settings.model_copy(update=changes), reconcile=False)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client


@pytest.fixture
def monitored(settings: Settings) -> Iterator[TestClient]:
    with serving(settings, metrics_per_client=True) as client:
        yield client


def exposition(api: TestClient) -> str:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    text: str = response.text
    return text


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def fedops_samples(text: str) -> Samples:
    """Every sample of fedops' own families (process and HTTP metrics move with each request)."""
    return {key: value for key, value in samples(text).items() if key[0].startswith("fedops_")}


def server_report(task_id: str, round_number: int, total: float, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "server_round",
        "report_id": f"server-round-{round_number}",
        "task_id": task_id,
        "round": round_number,
        "num_clients": 2,
        "num_failures": round_number - 1,
        "loss": 1.0 / round_number,
        "accuracy": 0.5 + round_number / 10,
        "metrics": {"eval_f1": 0.25 * round_number},
        "timings": {"configure": 0.05, "wait": 2.0, "aggregate": 0.3, "evaluate": 0.4, "total": total},
        **extra,
    }


def client_report(task_id: str, client_id: str, round_number: int, total: float) -> dict[str, Any]:
    return {
        "kind": "client_round",
        "report_id": f"client-{client_id}-round-{round_number}",
        "task_id": task_id,
        "client_id": client_id,
        "round": round_number,
        "num_train_examples": 100,
        "explanations_generated": 2,
        "timings": {**PHASES, "total": total},
    }


def upload_artifact(api: TestClient, task_id: str, client: dict[str, Any], label: str, score: float) -> Any:
    fields = {"class_label": label, "faithfulness": str(score), "artifact_id": f"explanation-{label}"}
    return upload_image(api, task_id, client, png_bytes(), **fields)


def attach_server(api: TestClient, task_id: str) -> str:
    """A server row as provisioning records it (no process: these tests are about metrics);
    returns its token."""
    token = new_token(TokenKind.SERVER)
    services = api.app.state.services  # type: ignore[attr-defined]
    with services.sessions.begin() as session:
        session.add(
            ServerRow(
                task_id=task_id, provisioner="local", replicas=1, paused=False, resources={},
                token_hash=hash_token(token), ready=True, fleet_address=None, reason="", observed_at=None,
                created_at=utcnow(),
            )
        )  # fmt: skip
    return token


def federate(api: TestClient) -> dict[str, Any]:
    """Two rounds of a task with two clients, their explanations and heartbeats; its FL
    server has read the task once."""
    task = create_task(api)
    server_token = attach_server(api, task["id"])
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(server_token)).status_code == 200
    clients = [enroll(api, task["id"], name) for name in ("edge-1", "edge-2")]
    for number, client in enumerate(clients):
        heartbeat = {"online": True, "training": number == 0, "spool_backlog": 3 + number}
        path = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
        assert api.put(path, json=heartbeat, headers=bearer(client["credential"])).status_code in (200, 204)
    for round_number, server_total in ((1, 3.0), (2, 5.0)):
        for number, client in enumerate(clients):
            report = client_report(task["id"], client["client_id"], round_number, 2.0 + 2.0 * number)
            stored = api.post("/api/v1/monitoring/reports", json=report, headers=bearer(client["credential"]))
            assert stored.json()["accepted"] == 1, stored.text
        stored = api.post(
            "/api/v1/monitoring/reports", json=server_report(task["id"], round_number, server_total)
        )
        assert stored.json()["accepted"] == 1, stored.text
    for label, score in (("3", -0.3), ("7", 0.7)):
        uploaded = upload_artifact(api, task["id"], clients[0], label, score)
        assert uploaded.status_code == 201, uploaded.text
    task["created_at_unix"] = datetime.fromisoformat(task["created_at"]).timestamp()
    return {"task": task, "clients": clients}


def test_the_exposition_has_exactly_the_catalogued_families(monitored: TestClient) -> None:
    federate(monitored)
    monitored.get("/healthz")  # an HTTP request to count

    found = {
        (family.name + ("_total" if family.type == "counter" else ""), family.type)
        for family in text_string_to_metric_families(exposition(monitored))
        if not family.name.startswith(STANDARD_PREFIXES)
    }

    assert found == {(entry.name, entry.type) for entry in CATALOG}


def test_every_task_family_has_a_sample_for_the_task(monitored: TestClient) -> None:
    task = federate(monitored)["task"]["name"]

    families = text_string_to_metric_families(exposition(monitored))
    with_task = {family.name for family in families for s in family.samples if s.labels.get("task") == task}

    expected = {entry.name.removesuffix("_total") for entry in CATALOG if "task" in entry.labels}
    assert with_task == expected


def test_promtool_finds_nothing_to_complain_about(monitored: TestClient) -> None:
    federate(monitored)
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: make system-deps installs it"

    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition(monitored),
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_values_are_those_of_the_ingested_reports(monitored: TestClient) -> None:
    federated = federate(monitored)
    task = (("task", federated["task"]["name"]),)
    found = samples(exposition(monitored))

    def value(name: str, *labels: tuple[str, str]) -> float:
        return found[(name, tuple(sorted(task + labels)))]

    assert value("fedops_rounds_completed_total") == 2
    assert value("fedops_round_current") == 2  # the task is not running
    assert value("fedops_round_duration_seconds_count") == 2
    assert value("fedops_round_duration_seconds_sum") == 8.0
    assert value("fedops_round_duration_seconds_bucket", ("le", "2.5")) == 0
    assert value("fedops_round_duration_seconds_bucket", ("le", "5.0")) == 2
    assert value("fedops_round_duration_median_seconds") == 4.0
    assert value("fedops_round_phase_duration_seconds_sum", ("phase", "wait")) == 4.0
    assert value("fedops_round_participants") == 2
    assert value("fedops_round_failures") == 1
    assert value("fedops_round_client_failures_total") == 1
    assert value("fedops_round_straggler_ratio") == pytest.approx(4.0 / 3.0)
    assert value("fedops_model_accuracy") == pytest.approx(0.7)
    assert value("fedops_model_loss") == 0.5
    assert value("fedops_model_metric", ("metric", "eval_f1")) == 0.5
    assert value("fedops_client_phase_duration_seconds_count", ("phase", "train")) == 4
    assert value("fedops_client_phase_duration_seconds_sum", ("phase", "train")) == pytest.approx(6.0)
    assert value("fedops_client_examples_trained_total") == 400
    assert value("fedops_clients_enrolled") == 2
    assert value("fedops_clients_online") == 2
    assert value("fedops_clients_training") == 1
    assert value("fedops_client_spool_backlog") == 7
    assert value("fedops_xai_explanations_generated_total") == 8
    assert value("fedops_xai_explanations_uploaded_total") == 2
    assert value("fedops_xai_uploaded_bytes_total") == 2 * len(png_bytes())
    assert value("fedops_xai_faithfulness_count") == 2
    assert value("fedops_xai_faithfulness_bucket", ("le", "0.0")) == 1
    assert value("fedops_client_round_duration_seconds", ("client", "edge-2"), ("phase", "total")) == 4.0
    assert value("fedops_flserver_ready") == 1
    assert value("fedops_flserver_restarts_total") == 0
    assert value("fedops_flserver_last_seen_timestamp_seconds") >= federated["task"]["created_at_unix"]


def test_resending_reports_changes_no_sample(monitored: TestClient) -> None:
    federated = federate(monitored)
    task_id, client = federated["task"]["id"], federated["clients"][0]
    as_client = bearer(client["credential"])
    before = fedops_samples(exposition(monitored))

    single = monitored.post(
        "/api/v1/monitoring/reports",
        json=client_report(task_id, client["client_id"], 2, 2.0),
        headers=as_client,
    )
    batch = [client_report(task_id, client["client_id"], number, 2.0) for number in (1, 2)]
    batched = monitored.post("/api/v1/monitoring/reports/batch", json={"reports": batch}, headers=as_client)
    servers = monitored.post(
        "/api/v1/monitoring/reports/batch",
        json={"reports": [server_report(task_id, number, 1.0) for number in (1, 2)]},
    )
    artifact = upload_artifact(monitored, task_id, client, "3", -0.3)

    assert [single.json(), batched.json(), servers.json()] == [
        {"accepted": 0, "duplicates": 1},
        {"accepted": 0, "duplicates": 2},
        {"accepted": 0, "duplicates": 2},
    ]
    assert artifact.status_code == 200  # stored before: answered, not stored again
    assert fedops_samples(exposition(monitored)) == before


def test_per_client_series_are_capped_to_the_most_recently_seen(settings: Settings) -> None:
    with serving(settings, metrics_per_client=True, metrics_client_series_limit=1) as api:
        task = create_task(api)
        for name in ("edge-1", "edge-2"):
            client = enroll(api, task["id"], name)
            path = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
            api.put(path, json={"online": True}, headers=bearer(client["credential"]))
        found = samples(exposition(api))

    heartbeats = {
        dict(labels)["client"]
        for name, labels in found
        if name == "fedops_client_last_heartbeat_timestamp_seconds"
    }
    assert heartbeats == {"edge-2"}


def test_model_metrics_are_capped_at_twenty_per_task(monitored: TestClient) -> None:
    task = create_task(monitored)
    many = {f"m{index:02d}": float(index) for index in range(25)}
    monitored.post("/api/v1/monitoring/reports", json=server_report(task["id"], 1, 1.0, metrics=many))

    names = {
        dict(labels)["metric"]
        for name, labels in samples(exposition(monitored))
        if name == "fedops_model_metric"
    }

    assert names == {f"m{index:02d}" for index in range(20)}


def test_per_client_series_are_off_by_default(settings: Settings) -> None:
    with serving(settings) as api:
        federate(api)
        text = exposition(api)

    assert "fedops_client_last_heartbeat_timestamp_seconds" not in text
    assert "fedops_rounds_completed_total" in text


def test_fl_metrics_can_be_switched_off(settings: Settings) -> None:
    with serving(settings, metrics_fl=False) as api:
        federate(api)
        names = {family.name for family in text_string_to_metric_families(exposition(api))}

    assert not {name for name in names if name.startswith("fedops_")} - {"fedops_reports_ingested"}
    assert "http_requests" in names
