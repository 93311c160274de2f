"""Every list pages the same way, and rounds are summarised by the database (issue 8, defect 11).

The contract is GET /tasks': ``limit`` (default 100, at most 500) items from ``offset``,
answered as ``{data, count}`` with ``count`` the total. Checked in the OpenAPI document
and end to end through the typed SDK clients against `fedops up` on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fedops.api import ApiError, FedopsClient, all_pages
from fedops.api.monitoring import ArtifactUpload
from fedops.api.schemas import EnrollmentRequest, ModelVersionCreate
from fedops.spec import TaskSpec
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_api_monitoring import client_report
from tests.support.stack import FedopsStack, running_stack
from tests.unit.test_errors_and_sniffing import png_bytes

LISTS = (
    "listTasks",
    "listTaskRevisions",
    "listClients",
    "listModelVersions",
    "listReports",
    "listRounds",
    "listArtifacts",
)


def test_every_list_has_the_same_paging_contract(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    operations = {
        op["operationId"]: op
        for path in document["paths"].values()
        for op in path.values()
        if "operationId" in op
    }

    contracts = {}
    for operation_id in LISTS:
        parameters = {p["name"]: p["schema"] for p in operations[operation_id]["parameters"]}
        contracts[operation_id] = {
            name: {k: parameters[name].get(k) for k in ("default", "minimum", "maximum")}
            for name in ("limit", "offset")
        }

    assert contracts["listTasks"]["limit"] == {"default": 100, "minimum": 1, "maximum": 500}
    assert contracts == dict.fromkeys(LISTS, contracts["listTasks"])


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[FedopsStack]:
    env = {"FEDOPS_DATABASE_URL": database_url, "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_stack(tmp_path / "data", env=env) as running:
        yield running


def _three_of_everything(api: FedopsClient) -> str:
    spec = TaskSpec.model_validate({"name": "paged", "rounds": 3})
    task_id = api.registry.create_task(spec).id
    for rounds in (4, 5):  # revisions 2 and 3
        api.registry.update_task(task_id, spec.model_copy(update={"rounds": rounds}))
    token = api.registry.create_enrollment_token(task_id).token
    clients = []
    with FedopsClient(api.core.base_url, token) as enrolling:
        for index in range(3):
            clients.append(
                enrolling.registry.enroll(task_id, EnrollmentRequest(name=f"edge-{index}")).client_id
            )
    for round_number in (1, 2, 3):
        api.registry.register_model_version(
            task_id, ModelVersionCreate(round=round_number, checkpoint_uri=f"file:///r{round_number}.npz")
        )
        api.monitoring.upload_artifact(
            ArtifactUpload(task_id=task_id, round=round_number, client_id=clients[0], class_label="7",
                           method="gradcam", layer="conv2", content=png_bytes())
        )  # fmt: skip
    reports = [client_report(task_id, client, r) for client in clients for r in (1, 2, 3)]
    assert api.monitoring.ingest_documents(reports).accepted == 9
    return task_id


def _positional(fetch: Callable[..., Any], limit: int, offset: int) -> Any:
    return fetch(limit=limit, offset=offset)


def test_every_list_pages_through_the_typed_clients(stack: FedopsStack) -> None:
    with FedopsClient(stack.url, ADMIN_TOKEN) as api:
        task_id = _three_of_everything(api)
        lists: dict[str, tuple[Callable[..., Any], int]] = {
            "revisions": (lambda **page: api.registry.list_revisions(task_id, **page), 3),
            "clients": (lambda **page: api.registry.list_clients(task_id, **page), 3),
            "models": (lambda **page: api.registry.list_model_versions(task_id, **page), 3),
            "artifacts": (lambda **page: api.monitoring.artifacts(task_id, **page), 3),
            "reports": (lambda **page: api.monitoring.reports(task_id, **page), 9),
            "rounds": (lambda **page: api.monitoring.rounds(task_id, **page), 3),
        }
        for name, (fetch, total) in lists.items():
            first, rest = fetch(limit=2, offset=0), fetch(limit=2, offset=2)
            everything = list(all_pages(partial(_positional, fetch), limit=2))
            assert (first.count, rest.count, len(first.data), len(everything)) == (total, total, 2, total), (
                name
            )
            assert everything[:4] == [*first.data, *rest.data], name  # pages follow each other
            with pytest.raises(ApiError) as too_many:
                fetch(limit=501, offset=0)
            assert too_many.value.status == 422, name

        rounds = api.monitoring.rounds(task_id, limit=2, offset=1)
    assert [r.round for r in rounds.data] == [2, 3] and rounds.count == 3
    assert all(r.client_reports == 3 and r.mean_client_train_seconds == 1.5 for r in rounds.data)
    assert rounds.data[0].mean_client_val_accuracy == pytest.approx(0.7)


def test_registering_the_same_model_version_again_returns_it(api: TestClient) -> None:
    task_id = api.post("/api/v1/tasks", json={"name": "again"}).json()["id"]
    version = {"round": 1, "checkpoint_uri": "file:///round-00001.npz", "metadata": {"sha256": "ab"}}

    first = api.post(f"/api/v1/tasks/{task_id}/models", json=version)
    again = api.post(f"/api/v1/tasks/{task_id}/models", json=version)
    other = api.post(f"/api/v1/tasks/{task_id}/models", json={**version, "metadata": {"sha256": "cd"}})

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json() == again.json() and first.json()["version"] == 1 and other.json()["version"] == 2
    assert api.get(f"/api/v1/tasks/{task_id}/models").json()["count"] == 2
