"""``/metrics`` (Prometheus text) and splitting the app into registry and monitoring."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fedops_services.app import create_app
from fedops_services.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import bearer, create_task, enroll, upload_image
from tests.integration.test_api_monitoring import client_report
from tests.unit.test_errors_and_sniffing import png_bytes


def _samples(api: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_tasks_clients_and_new_reports_only(api: TestClient) -> None:
    task = create_task(api)
    create_task(api, name="second")
    client = enroll(api, task["id"])
    api.put(
        f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat",
        json={"online": True, "training": False},
        headers=bearer(client["credential"]),
    )
    report = client_report(task["id"], client["client_id"], 1)
    for _ in range(2):  # the resend is a duplicate and is not counted
        api.post("/api/v1/monitoring/reports", json=report, headers=bearer(client["credential"]))

    samples = _samples(api)

    assert samples[("fedops_tasks", (("status", "created"),))] == 2
    assert samples[("fedops_tasks", (("status", "running"),))] == 0
    assert samples[("fedops_clients_online", (("task", task["name"]),))] == 1
    assert samples[("fedops_clients_online", (("task", "second"),))] == 0
    assert samples[("fedops_reports_ingested_total", (("kind", "client_round"),))] == 1
    assert samples[("fedops_reports_ingested_total", (("kind", "server_round"),))] == 0


@pytest.fixture
def split(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """A registry-only and a monitoring-only app on one database, as the Helm chart runs them."""
    apps = [  # each with its own data directory, as two pods would have
        create_app(
            settings.model_copy(
                update={"components": frozenset({component}), "data_dir": settings.data_dir / component}
            )
        )
        for component in ("registry", "monitoring")
    ]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(apps[0], headers=headers) as registry, TestClient(apps[1], headers=headers) as monitoring:
        yield registry, monitoring


def test_each_component_serves_only_its_api(split: tuple[TestClient, TestClient]) -> None:
    registry, monitoring = split
    task = create_task(registry)
    client = enroll(registry, task["id"])
    report = client_report(task["id"], client["client_id"], 1)

    stored = monitoring.post("/api/v1/monitoring/reports", json=report, headers=bearer(client["credential"]))

    assert stored.status_code == 200 and stored.json()["accepted"] == 1
    assert monitoring.get("/api/v1/tasks").status_code == 404
    assert registry.post("/api/v1/monitoring/reports", json=report).status_code == 404
    assert registry.get("/api/v1/whoami").json()["role"] == monitoring.get("/api/v1/whoami").json()["role"]
    # Database state is exported once (by monitoring), so two scraped pods never double it.
    assert "fedops_tasks" in monitoring.get("/metrics").text
    assert "fedops_tasks" not in registry.get("/metrics").text


def test_components_must_name_something_known() -> None:
    with pytest.raises(ValueError, match="registry"):
        Settings(components="")
    with pytest.raises(ValueError, match="monitoring"):
        Settings(components="registry,billing")


def test_monitoring_removes_the_files_of_tasks_the_registry_deleted(
    split: tuple[TestClient, TestClient],
) -> None:
    registry, monitoring = split
    tasks = [create_task(registry), create_task(registry, name="kept")]
    for task in tasks:
        client = enroll(registry, task["id"])
        assert upload_image(monitoring, task["id"], client, png_bytes()).status_code == 201
    services = monitoring.app.state.services  # type: ignore[attr-defined]
    deleted, kept = tasks

    assert registry.delete(f"/api/v1/tasks/{deleted['id']}").status_code == 204
    assert services.artifacts.remove_orphans() == 1

    assert sorted(path.name for path in services.settings.artifact_dir.iterdir()) == [kept["id"]]
    assert monitoring.get(f"/api/v1/monitoring/tasks/{kept['id']}/artifacts").json()["count"] == 1
