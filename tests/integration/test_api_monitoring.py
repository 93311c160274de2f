"""Report ingest (idempotent, batched) and XAI artifact uploads."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.helpers import bearer, create_task, enroll, error_code, upload_image
from tests.unit.test_errors_and_sniffing import png_bytes


def client_report(task_id: str, client_id: str, round_number: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "client_round",
        "report_id": str(uuid.uuid4()),
        "task_id": task_id,
        "client_id": client_id,
        "round": round_number,
        "num_train_examples": 100,
        "val_accuracy": 0.5 + round_number / 10,
        "metrics": {"f1": 0.4},
        "timings": {"train": 1.5, "evaluate": 0.2, "total": 2.0},
        **extra,
    }


def test_a_resent_report_is_stored_once(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    report = client_report(task["id"], client["client_id"], 1)
    as_client = bearer(client["credential"])

    first = api.post("/api/v1/monitoring/reports", json=report, headers=as_client).json()
    again = api.post("/api/v1/monitoring/reports", json=report, headers=as_client).json()
    batch = api.post(
        "/api/v1/monitoring/reports/batch", json={"reports": [report, report]}, headers=as_client
    ).json()

    assert first == {"accepted": 1, "duplicates": 0}
    assert again == {"accepted": 0, "duplicates": 1}
    assert batch == {"accepted": 0, "duplicates": 2}
    stored = api.get(f"/api/v1/monitoring/tasks/{task['id']}/reports").json()
    assert stored["count"] == 1 and stored["data"][0]["metrics"] == {"f1": 0.4}


def test_rounds_combine_server_and_client_reports(api: TestClient) -> None:
    task = create_task(api)
    clients = [enroll(api, task["id"], name=f"edge-{i}") for i in range(2)]
    reports: list[dict[str, Any]] = [
        client_report(task["id"], c["client_id"], r) for c in clients for r in (1, 2)
    ]
    reports += [
        {
            "kind": "server_round",
            "report_id": f"srv-{r}",
            "task_id": task["id"],
            "round": r,
            "accuracy": 0.9,
            "timings": {"aggregate": 0.1, "total": 3.0},
            "num_clients": 2,
        }
        for r in (1, 2)
    ]

    result = api.post("/api/v1/monitoring/reports/batch", json={"reports": reports}).json()
    rounds = api.get(f"/api/v1/monitoring/tasks/{task['id']}/rounds").json()

    assert result == {"accepted": 6, "duplicates": 0}
    assert [r["round"] for r in rounds["data"]] == [1, 2]
    assert rounds["data"][0]["client_reports"] == 2 and rounds["data"][0]["server"]["accuracy"] == 0.9
    assert rounds["data"][1]["mean_client_val_accuracy"] == 0.7


def test_a_batch_with_one_bad_report_stores_nothing(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    good = client_report(task["id"], client["client_id"], 1)
    bad = client_report(task["id"], client["client_id"], -1)

    response = api.post("/api/v1/monitoring/reports/batch", json={"reports": [good, bad]})
    foreign = api.post(
        "/api/v1/monitoring/reports/batch",
        json={"reports": [good, client_report("f" * 32, client["client_id"], 1)]},
    )

    assert (
        response.status_code == 422 and "reports.1.client_round.round" in response.json()["error"]["message"]
    )
    assert foreign.status_code == 404 and error_code(foreign) == "task_not_found"
    assert api.get(f"/api/v1/monitoring/tasks/{task['id']}/reports").json()["count"] == 0


def test_a_client_reports_only_for_itself(api: TestClient) -> None:
    task = create_task(api)
    one, two = enroll(api, task["id"], name="one"), enroll(api, task["id"], name="two")

    response = api.post(
        "/api/v1/monitoring/reports",
        json=client_report(task["id"], two["client_id"], 1),
        headers=bearer(one["credential"]),
    )

    assert response.status_code == 403


def test_an_image_upload_is_stored_and_downloadable(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    image = png_bytes()

    created = upload_image(api, task["id"], client, image, artifact_id="a-1")
    resent = upload_image(api, task["id"], client, image, artifact_id="a-1")
    listed = api.get(f"/api/v1/monitoring/tasks/{task['id']}/artifacts", params={"round": 1}).json()
    content = api.get(f"/api/v1/monitoring/artifacts/{created.json()['id']}/content")

    assert created.status_code == 201 and resent.status_code == 200
    assert resent.json()["id"] == created.json()["id"]
    assert listed["count"] == 1 and listed["data"][0]["class_label"] == "7"
    assert content.content == image and content.headers["content-type"] == "image/png"
    services = api.app.state.services  # type: ignore[attr-defined]
    stored = [p for p in services.settings.artifact_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1 and "passwd" not in str(stored[0])


def test_an_upload_that_is_not_an_image_is_refused_and_nothing_is_stored(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])

    response = upload_image(api, task["id"], client, b"#!/bin/sh\necho pwned\n")

    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"
    assert api.get(f"/api/v1/monitoring/tasks/{task['id']}/artifacts").json()["count"] == 0
    services = api.app.state.services  # type: ignore[attr-defined]
    assert not [p for p in services.settings.artifact_dir.rglob("*") if p.is_file()]


def test_an_oversized_upload_is_refused(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    services = api.app.state.services  # type: ignore[attr-defined]
    too_big = png_bytes() + b"\x00" * services.artifacts.max_bytes

    response = upload_image(api, task["id"], client, too_big)

    assert response.status_code == 413 and error_code(response) == "payload_too_large"
