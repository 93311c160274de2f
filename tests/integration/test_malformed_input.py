"""Malformed input is a 4xx in the error shape and changes nothing; a 5xx names a request id.

Each case here was a 500 (issue 8, defect 9): undecodable bodies, integers past the
database's range and NUL characters (PostgreSQL refuses to store them). Runs on both
backends.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fedops_services.config import Settings
from tests.integration.helpers import bearer, create_task, enroll, upload_image
from tests.unit.test_errors_and_sniffing import png_bytes

DEEP = "[" * 5000 + "]" * 5000
BEYOND_INT = 2**31
BEYOND_BIGINT = 2**63


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert response.headers["x-request-id"]


def _tasks(api: TestClient) -> int:
    count: int = api.get("/api/v1/tasks").json()["count"]
    return count


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"name": "caf\xe9"}', 400, "malformed_request"),  # Latin-1, not UTF-8
        (b"\xff\xfe{\x00}\x00", 400, "malformed_request"),  # UTF-16
        (DEEP.encode(), 422, "validation_error"),  # past Python's recursion limit
        (b'{"name": "cut-short", "description": "x"', 422, "validation_error"),
        (b'{"name": "nan-task", "rounds": NaN}', 422, "validation_error"),
        (b'{"name": "big-task", "clients": {"fraction_train": 1e999}}', 422, "validation_error"),
        (b'{"name": "nul-task", "description": "a\\u0000b"}', 422, "validation_error"),
        (b'{"name": "nul-key", "strategy": {"params": {"mu\\u0000": 1}}}', 422, "validation_error"),
    ],
)  # fmt: skip
def test_undecodable_or_unstorable_json_is_refused(
    api: TestClient, body: bytes, status: int, code: str
) -> None:
    before = _tasks(api)
    response = api.post("/api/v1/tasks", content=body, headers={"Content-Type": "application/json"})
    _refused(response, status, code)
    assert _tasks(api) == before


def test_json_nested_deeper_than_any_schema_is_refused(api: TestClient) -> None:
    task = create_task(api)
    metadata: dict[str, Any] = {}
    for _ in range(200):  # parses fine, but would recurse through every layer after
        metadata = {"m": metadata}
    response = api.post(
        f"/api/v1/tasks/{task['id']}/models", json={"round": 1, "checkpoint_uri": "x", "metadata": metadata}
    )
    _refused(response, 422, "validation_error")
    assert api.get(f"/api/v1/tasks/{task['id']}/models").json()["count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/tasks?offset={BEYOND_BIGINT}",
        f"/api/v1/tasks?offset={BEYOND_INT}",
        f"/api/v1/monitoring/tasks/t/reports?round={BEYOND_INT}",
        f"/api/v1/monitoring/tasks/t/artifacts?round={BEYOND_INT}",
        "/api/v1/tasks?name=a%00b",
        "/api/v1/tasks/a%00b",
        "/api/v1/tasks/a%00b/revisions",
        "/api/v1/monitoring/tasks/t/reports?client_id=%00",
    ],
)
def test_query_and_path_values_the_database_cannot_hold_are_refused(api: TestClient, path: str) -> None:
    _refused(api.get(path), 422, "validation_error")


def test_integers_and_nul_in_bodies_are_refused_and_change_nothing(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    models = f"/api/v1/tasks/{task['id']}/models"
    for body in (
        {"round": BEYOND_INT, "checkpoint_uri": "file:///c"},
        {"round": 1, "checkpoint_uri": "file:///c\x00"},
        {"round": 1, "checkpoint_uri": "file:///c", "metadata": {"k\x00": 1}},
    ):
        _refused(api.post(models, json=body), 422, "validation_error")
    assert api.get(models).json()["count"] == 0

    report = {"kind": "server_round", "report_id": "r-1", "task_id": task["id"], "round": BEYOND_INT}
    _refused(api.post("/api/v1/monitoring/reports", json=report), 422, "validation_error")
    heartbeat = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
    _refused(
        api.put(heartbeat, json={"global_model_version": BEYOND_INT}, headers=bearer(client["credential"])),
        422,
        "validation_error",
    )
    _refused(upload_image(api, task["id"], client, png_bytes(), layer="conv\x002"), 422, "validation_error")
    _refused(
        upload_image(api, task["id"], client, png_bytes(), round=str(BEYOND_INT)), 422, "validation_error"
    )
    assert api.get(f"/api/v1/monitoring/tasks/{task['id']}/reports").json()["count"] == 0
    assert api.get(f"/api/v1/monitoring/tasks/{task['id']}/artifacts").json()["count"] == 0


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "b0undary") -> bytes:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in parts
    )
    return body + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", _multipart([("round", b"1")])),  # no boundary
        ("multipart/form-data; boundary=b0undary", _multipart([("layer", b"x" * (1024 * 1024 + 1))])),
        ("multipart/form-data; boundary=b0undary", _multipart([(f"f{i}", b"1") for i in range(1001)])),
        ("multipart/form-data; boundary=b0undary", b"--b0undary\r\nContent-Disposition: form-data\r\n\r\nx"),
    ],
)
def test_malformed_multipart_is_a_400(api: TestClient, content_type: str, body: bytes) -> None:
    task = create_task(api)
    response = api.post(
        f"/api/v1/monitoring/tasks/{task['id']}/artifacts",
        content=body,
        headers={"Content-Type": content_type},
    )
    _refused(response, 400, "malformed_request")


def test_malformed_bodies_without_a_token_are_401_before_any_parsing(api: TestClient) -> None:
    anonymous = TestClient(api.app)  # the running app, without the admin header
    json_body = {"Content-Type": "application/json"}
    _refused(anonymous.post("/api/v1/tasks", content=DEEP, headers=json_body), 401, "unauthenticated")
    no_boundary = {"Content-Type": "multipart/form-data"}
    _refused(
        anonymous.post("/api/v1/monitoring/tasks/t/artifacts", content=b"--x", headers=no_boundary),
        401,
        "unauthenticated",
    )


def test_a_request_id_is_returned_and_an_offered_one_kept(api: TestClient) -> None:
    assert len(api.get("/api/v1/tasks").headers["x-request-id"]) == 32
    assert api.get("/healthz", headers={"X-Request-ID": "lb-42.a"}).headers["x-request-id"] == "lb-42.a"
    forged = api.get("/healthz", headers={"X-Request-ID": "x\r\nFAKE log line"}).headers["x-request-id"]
    assert "FAKE" not in forged


def test_a_500_is_logged_with_the_request_id_it_answers_with(
    api: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A real fault under the running service: its PostgreSQL database is dropped, or the
    # table it reads is gone from its SQLite file.
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        broken = create_engine(url)
        with broken.begin() as connection:
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            connection.execute(text("DROP TABLE tasks"))
    else:
        broken = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with broken.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    broken.dispose()

    with caplog.at_level(logging.ERROR):
        response = api.get("/api/v1/tasks")

    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json()["error"]["code"] == "internal_error"
    assert request_id in response.json()["error"]["message"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_every_operation_screens_its_parameters(api: TestClient) -> None:
    # StrictRoute on every router: a NUL in any path parameter of any operation is a 422.
    paths = api.get("/openapi.json").json()["paths"]
    screened = 0
    for template, operations in paths.items():
        if "{" not in template:
            continue
        path = re.sub(r"\{[^}]+\}", "a%00b", template)
        for method in operations:
            _refused(api.request(method.upper(), path), 422, "validation_error")
            screened += 1
    assert screened > 25
