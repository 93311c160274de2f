"""Strict in what the server accepts, lenient in what the client accepts.

Response models ignore unknown fields (a newer server must not break an older client);
request bodies with an unknown field are still refused whole with 422, by the real app.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fedops.api.schemas import ClientsPublic, IngestResult
from tests.integration.helpers import bearer, create_task, enroll, error_code


def _system_report(task_id: str, client_id: str, report_id: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "system", "report_id": report_id, "task_id": task_id, "client_id": client_id, **extra}


def test_request_bodies_with_an_unknown_field_are_refused(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    as_client = bearer(client["credential"])
    heartbeat = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
    batch = "/api/v1/monitoring/reports/batch"

    refused = [
        api.put(heartbeat, json={"online": True, "surprise": 1}, headers=as_client),
        api.post(batch, json={"reports": [_system_report(task["id"], client["client_id"], "r1", surprise=1)]},
                 headers=as_client),
        api.post(batch, json={"reports": [{**_system_report(task["id"], client["client_id"], "r2"),
                                           "kind": "client_round", "round": 1,
                                           "timings": {"train": 1.0, "surprise": 2.0}}]},
                 headers=as_client),
        api.post(batch, json={"reports": [], "surprise": 1}, headers=as_client),
    ]  # fmt: skip

    assert [r.status_code for r in refused] == [422] * 4
    assert {error_code(r) for r in refused} == {"validation_error"}
    stored = api.get(f"/api/v1/monitoring/tasks/{task['id']}/reports").json()
    assert stored["count"] == 0  # refused whole: nothing was stored


def test_the_heartbeat_carries_the_spool_backlog(api: TestClient) -> None:
    task = create_task(api)
    client = enroll(api, task["id"])
    url = f"/api/v1/tasks/{task['id']}/clients/{client['client_id']}/heartbeat"
    as_client = bearer(client["credential"])

    accepted = api.put(url, json={"online": True, "spool_backlog": 7}, headers=as_client)
    negative = api.put(url, json={"online": True, "spool_backlog": -1}, headers=as_client)

    assert accepted.status_code == 204
    assert negative.status_code == 422


def test_the_server_answers_parse_with_fields_added_later(api: TestClient) -> None:
    """What a newer server would send: today's answer plus fields this client never saw."""
    task = create_task(api)
    client = enroll(api, task["id"])
    ingested = api.post(
        "/api/v1/monitoring/reports/batch",
        json={"reports": [_system_report(task["id"], client["client_id"], "r1")]},
        headers=bearer(client["credential"]),
    ).json()
    clients = api.get(f"/api/v1/tasks/{task['id']}/clients").json()
    clients["data"][0]["added_later"] = {"nested": True}
    clients["next_cursor"] = "x"

    assert IngestResult.model_validate({**ingested, "added_later": 1}).accepted == 1
    assert ClientsPublic.model_validate(clients).data[0].id == client["client_id"]


def test_the_openapi_document_closes_request_bodies(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    for name in ("HeartbeatRequest", "ReportBatch", "EnrollmentRequest", "ModelVersionCreate", "RunResult"):
        assert schemas[name].get("additionalProperties") is False, name
