"""Tasks over REST against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.helpers import create_task, error_code

XAI_TASK = {
    "name": "mnist-xai",
    "strategy": {"name": "FedAvg"},
    "rounds": 3,
    "xai": {"enabled": True, "method": "gradcam", "target_layer": "conv2", "samples_per_class": 1},
    "resources": {"cpu": "1", "memory": "2Gi", "gpu": 0},
}


def test_create_get_update_makes_revisions(api: TestClient) -> None:
    # Execute
    created = api.post("/api/v1/tasks", json=XAI_TASK)
    # Assert
    assert created.status_code == 201
    task = created.json()
    assert task["status"] == "created" and task["revision"] == 1
    assert task["spec"]["xai"]["enabled"] is True and task["spec"]["xai"]["target_layer"] == "conv2"

    fetched = api.get(f"/api/v1/tasks/{task['id']}").json()
    assert fetched["spec"] == task["spec"]

    updated = api.put(f"/api/v1/tasks/{task['id']}", json={**XAI_TASK, "rounds": 5})
    assert updated.status_code == 200
    assert updated.json()["revision"] == 2 and updated.json()["spec"]["rounds"] == 5

    revisions = api.get(f"/api/v1/tasks/{task['id']}/revisions").json()
    assert [r["revision"] for r in revisions["data"]] == [1, 2]
    assert [r["spec"]["rounds"] for r in revisions["data"]] == [3, 5]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": {"name": "FedMagic"}}, "strategy.name"),
        ({"strategy": {"name": "FedAvg", "params": {"proximal_mu": 0.1}}}, "strategy.params"),
        ({"resources": {"gpu": "0.5"}}, "resources.gpu"),
        ({"rounds": -1}, "rounds"),
        ({"name": "Not_A_Label"}, "name"),
        ({"resources": {"replicas": 2}}, "resources.replicas"),  # two SuperLinks, one volume
    ],
)
def test_invalid_specs_are_refused_whole(api: TestClient, change: dict[str, Any], field: str) -> None:
    response = api.post("/api/v1/tasks", json={**XAI_TASK, **change})

    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert field in body["message"]
    assert field in [detail["field"] for detail in body["details"]]
    assert api.get("/api/v1/tasks").json()["count"] == 0


def test_invalid_update_changes_nothing(api: TestClient) -> None:
    task = create_task(api)

    response = api.put(f"/api/v1/tasks/{task['id']}", json={**XAI_TASK, "rounds": 0})

    assert response.status_code == 422
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["revision"] == 1


def test_names_are_unique_and_immutable(api: TestClient) -> None:
    task = create_task(api)

    assert error_code(api.post("/api/v1/tasks", json=XAI_TASK)) == "task_name_taken"
    renamed = api.put(f"/api/v1/tasks/{task['id']}", json={**XAI_TASK, "name": "other"})
    assert renamed.status_code == 422 and error_code(renamed) == "task_name_immutable"


def test_list_filters_and_pages(api: TestClient) -> None:
    for index in range(5):
        create_task(api, name=f"task-{index}")

    page = api.get("/api/v1/tasks", params={"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and [t["name"] for t in page["data"]] == ["task-2", "task-3"]
    assert api.get("/api/v1/tasks", params={"name": "task-4"}).json()["count"] == 1
    assert api.get("/api/v1/tasks", params={"status": "running"}).json()["count"] == 0
    assert api.get("/api/v1/tasks", params={"status": "bogus"}).status_code == 422


def test_delete_removes_the_task(api: TestClient) -> None:
    task = create_task(api)

    assert api.delete(f"/api/v1/tasks/{task['id']}").status_code == 204

    missing = api.get(f"/api/v1/tasks/{task['id']}")
    assert missing.status_code == 404 and error_code(missing) == "task_not_found"


def test_unknown_routes_answer_with_the_error_shape(api: TestClient) -> None:
    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404 and error_code(response) == "not_found"
