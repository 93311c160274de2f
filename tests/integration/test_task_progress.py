"""Each task shows its progress (rounds done, clients online), counted for a page at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.integration.helpers import bearer, create_task, enroll


@contextmanager
def _counted(api: TestClient) -> Iterator[list[str]]:
    engine = api.app.state.services.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _server_round(task_id: str, number: int, report_id: str) -> dict[str, Any]:
    return {"kind": "server_round", "report_id": report_id, "task_id": task_id, "round": number}


def test_list_and_get_show_rounds_done_and_clients_online(api: TestClient) -> None:
    task = create_task(api, rounds=5)
    online, _ = enroll(api, task["id"], "edge-1"), enroll(api, task["id"], "edge-2")
    heartbeat = {"online": True, "training": True}
    sent = api.put(
        f"/api/v1/tasks/{task['id']}/clients/{online['client_id']}/heartbeat",
        json=heartbeat,
        headers=bearer(online["credential"]),
    )
    reports = [
        _server_round(task["id"], 1, "s1"),
        _server_round(task["id"], 2, "s2-a"),
        _server_round(task["id"], 2, "s2-b"),
    ]
    api.post("/api/v1/monitoring/reports/batch", json={"reports": reports})

    got = api.get(f"/api/v1/tasks/{task['id']}").json()["progress"]
    listed = api.get("/api/v1/tasks").json()["data"][0]["progress"]

    assert sent.status_code == 204
    expected = {
        "rounds_completed": 2,
        "num_rounds": 5,
        "clients": 2,
        "online_clients": 1,
        "training_clients": 1,
    }
    assert got == listed == expected
    assert create_task(api, name="fresh", rounds=3)["progress"] == {
        "rounds_completed": 0, "num_rounds": 3, "clients": 0, "online_clients": 0, "training_clients": 0,
    }  # fmt: skip


def test_a_page_of_tasks_costs_the_same_queries_whatever_its_size(api: TestClient) -> None:
    for index in range(2):
        enroll(api, create_task(api, name=f"small-{index}")["id"])
    with _counted(api) as few:
        assert api.get("/api/v1/tasks").json()["count"] == 2
    for index in range(6):
        enroll(api, create_task(api, name=f"more-{index}")["id"])
    with _counted(api) as many:
        assert api.get("/api/v1/tasks").json()["count"] == 8

    assert len(many) == len(few) <= 6, many
