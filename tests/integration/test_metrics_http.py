"""HTTP metrics: route templates and status classes, never raw paths or odd methods, and
requests refused before a handler runs counted too."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import create_task

Counts = dict[tuple[str, str, str], float]


def request_counts(api: TestClient) -> Counts:
    text = api.get("/metrics").text
    return {
        (sample.labels["handler"], sample.labels["method"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total"
    }


def test_requests_are_counted_by_route_template_and_status_class(api: TestClient) -> None:
    task = create_task(api)
    random_path = f"/no-such-{uuid.uuid4().hex}"

    api.get(f"/api/v1/tasks/{task['id']}")
    api.get(f"/api/v1/tasks/{uuid.uuid4().hex}")  # 404 from the handler
    api.get(random_path)  # no route: grouped, never the path itself
    api.request("BREW", f"/api/v1/tasks/{task['id']}")  # an invented method
    api.get("/metrics")  # scrapes are not counted

    counts = request_counts(api)
    text = api.get("/metrics").text

    assert counts[("/api/v1/tasks/{task_id}", "GET", "2xx")] == 1
    assert counts[("/api/v1/tasks/{task_id}", "GET", "4xx")] == 1
    assert counts[("none", "GET", "4xx")] == 1
    assert counts[("/api/v1/tasks/{task_id}", "other", "4xx")] == 1
    assert not [key for key in counts if key[0] == "/metrics"]
    assert random_path not in text and task["id"] not in text and "BREW" not in text


def test_requests_refused_before_the_handler_are_counted(api: TestClient) -> None:
    limit = api.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]
    reports = "/api/v1/monitoring/reports"

    api.post(reports, json={}, headers={"Authorization": "Bearer wrong"})  # 401 in the guard
    api.post(reports, content=b"x" * (limit + 1), headers={"Content-Type": "application/json"})  # 413
    api.post(reports, content=b'{"a": "\\u0000"}', headers={"Content-Type": "application/json"})  # 422

    counts = request_counts(api)

    assert counts[(reports, "POST", "4xx")] == 3
    assert sum(value for (_, _, status), value in counts.items() if status == "5xx") == 0
