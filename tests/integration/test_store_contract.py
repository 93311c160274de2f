"""The store functions behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fedops_services.db import make_engine, make_session_factory
from fedops_services.db.tables import utcnow
from fedops_services.store import models as model_store
from fedops_services.store import reports as report_store
from fedops_services.store import tasks as task_store


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _report_row(task_id: str, report_id: str, round_number: int = 1) -> dict[str, Any]:
    return {
        "task_id": task_id, "report_id": report_id, "kind": "client_round", "round": round_number,
        "client_id": "c1", "sender": "c1", "body": {"report_id": report_id}, "received_at": utcnow(),
    }  # fmt: skip


def _task(sessions: sessionmaker[Session], name: str = "t") -> str:
    with sessions.begin() as session:
        return task_store.insert_task(session, name, {"name": name}).id


def test_tasks_and_revisions(sessions: sessionmaker[Session]) -> None:
    task_id = _task(sessions)
    with sessions.begin() as session:
        row = task_store.get_task(session, task_id)
        assert row is not None
        task_store.add_revision(session, row, {"name": "t", "rounds": 9})

    with sessions() as session:
        revisions, _ = task_store.list_revisions(session, task_id, limit=10, offset=0)
        rows, count = task_store.list_tasks(session, status="created", name="t", limit=10, offset=0)
    assert [r.revision for r in revisions] == [1, 2] and revisions[1].spec["rounds"] == 9
    assert count == 1 and rows[0].created_at.tzinfo is not None


def test_name_filter_escapes_wildcards(sessions: sessionmaker[Session]) -> None:
    _task(sessions, "a-b")
    with sessions() as session:
        _, count = task_store.list_tasks(session, status=None, name="%", limit=10, offset=0)
    assert count == 0


def test_report_insert_is_idempotent_per_task(sessions: sessionmaker[Session]) -> None:
    one, two = _task(sessions, "one"), _task(sessions, "two")

    with sessions.begin() as session:
        first = report_store.insert_reports(session, [_report_row(one, "r1"), _report_row(one, "r2")])
    with sessions.begin() as session:
        again = report_store.insert_reports(session, [_report_row(one, "r1"), _report_row(two, "r1")])

    assert (first.total(), again.total()) == (2, 1)  # the same id in another task is another report
    with sessions() as session:
        assert report_store.query_reports(session, one)[1] == 2


def test_concurrent_resends_store_one_copy(sessions: sessionmaker[Session]) -> None:
    task_id = _task(sessions)
    rows = [_report_row(task_id, f"r{i}") for i in range(50)]
    results: list[int] = []  # new rows per sender

    def send() -> None:
        with sessions.begin() as session:
            results.append(report_store.insert_reports(session, rows).total())

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(results) == 50
    with sessions() as session:
        assert report_store.query_reports(session, task_id)[1] == 50


def test_model_versions_count_from_one(sessions: sessionmaker[Session]) -> None:
    task_id = _task(sessions)
    for round_number in (1, 2, 3):
        with sessions.begin() as session:
            model_store.insert_model_version(
                session, task_id, round=round_number, checkpoint_uri="x", meta={}
            )

    with sessions() as session:
        latest = model_store.latest_model_version(session, task_id)
    assert latest is not None and (latest.version, latest.round) == (3, 3)
