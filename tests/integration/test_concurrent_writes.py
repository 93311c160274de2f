"""Counters and limits hold under concurrency on both backends (issue 8, defect 4).

SQLite ignores ``SELECT ... FOR UPDATE`` and runs a transaction's reads before its first
write outside the transaction, so read-check-write code that is correct on PostgreSQL
raced there. Real threads send real requests at once, through the app's thread pool, to
a real database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from fedops_services.db import make_engine, make_session_factory
from fedops_services.store import tasks as task_store
from tests.integration.helpers import bearer, create_task, error_code

CALLERS = 20


def at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(i)`` from ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count, timeout=60)

    def run(index: int) -> Any:
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return [future.result(timeout=120) for future in [pool.submit(run, i) for i in range(count)]]


def _scalar(api: TestClient, query: str, **params: Any) -> Any:
    with api.app.state.services.engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(text(query), params).scalar_one()


def test_a_single_use_token_enrols_exactly_one_of_20_concurrent_clients(api: TestClient) -> None:
    task = create_task(api)
    token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={"max_uses": 1}).json()
    url = f"/api/v1/tasks/{task['id']}/clients"

    responses = at_once(
        CALLERS, lambda i: api.post(url, json={"name": f"edge-{i}"}, headers=bearer(token["token"]))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [401] * (CALLERS - 1), statuses
    assert {error_code(r) for r in responses if r.status_code != 201} == {"enrollment_token_invalid"}
    assert _scalar(api, "SELECT uses FROM enrollment_tokens WHERE id = :id", id=token["id"]) == 1
    assert api.get(url).json()["count"] == 1


def test_a_token_for_five_enrols_exactly_five_of_20_concurrent_clients(api: TestClient) -> None:
    task = create_task(api)
    token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={"max_uses": 5}).json()
    url = f"/api/v1/tasks/{task['id']}/clients"

    responses = at_once(
        CALLERS, lambda i: api.post(url, json={"name": f"edge-{i}"}, headers=bearer(token["token"]))
    )

    assert sum(r.status_code == 201 for r in responses) == 5
    assert _scalar(api, "SELECT uses FROM enrollment_tokens WHERE id = :id", id=token["id"]) == 5
    assert api.get(url).json()["count"] == 5


def test_concurrent_task_updates_get_distinct_gapless_revisions(api: TestClient) -> None:
    task = create_task(api, name="revised")
    url = f"/api/v1/tasks/{task['id']}"

    responses = at_once(10, lambda i: api.put(url, json={"name": "revised", "rounds": i + 1}))

    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.json()["revision"] for r in responses) == list(range(2, 12))
    revisions = api.get(f"{url}/revisions").json()["data"]
    assert [r["revision"] for r in revisions] == list(range(1, 12))
    assert api.get(url).json()["revision"] == 11


def test_concurrent_model_versions_get_distinct_gapless_numbers(api: TestClient) -> None:
    task = create_task(api)
    url = f"/api/v1/tasks/{task['id']}/models"

    responses = at_once(10, lambda i: api.post(url, json={"round": i + 1, "checkpoint_uri": f"file:///{i}"}))

    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == list(range(1, 11))


def test_store_revisions_are_gapless_without_any_lock(database_url: str) -> None:
    """``add_revision`` itself is atomic: callers that take no lock still cannot collide."""
    engine = make_engine(database_url)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    try:
        with sessions.begin() as session:
            task_id = task_store.insert_task(session, "t", {"name": "t"}).id

        def revise(index: int) -> int:
            with sessions.begin() as session:
                row = task_store.get_task(session, task_id)
                assert row is not None
                task_store.add_revision(session, row, {"name": "t", "rounds": index})
                return row.revision

        numbers = at_once(8, revise)

        with engine.connect() as connection:
            query = text("SELECT revision FROM task_revisions WHERE task_id = :id ORDER BY revision")
            stored = list(connection.execute(query, {"id": task_id}).scalars())
        assert sorted(numbers) == list(range(2, 10)) and stored == list(range(1, 10))
    finally:
        engine.dispose()
