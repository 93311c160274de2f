"""The store functions behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fedops_services.db import autocommit_reads, make_engine, make_session_factory
from fedops_services.db.tables import ServerRow, utcnow
from fedops_services.store import clients as client_store
from fedops_services.store import metrics as metric_store
from fedops_services.store import models as model_store
from fedops_services.store import progress as progress_store
from fedops_services.store import reports as report_store
from fedops_services.store import tasks as task_store


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def reads(engine: Engine) -> Engine:
    """The autocommit pool the hot-path reads (poll, metrics) use, as the services build it."""
    return autocommit_reads(engine)


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


def test_existing_task_ids(sessions: sessionmaker[Session]) -> None:
    one, two = _task(sessions, "one"), _task(sessions, "two")
    with sessions() as session:
        assert task_store.existing_task_ids(session, {one, "gone"}) == {one}
        assert task_store.existing_task_ids(session, [one, two]) == {one, two}
        assert task_store.existing_task_ids(session, set()) == set()


def test_tasks_counted_by_status(sessions: sessionmaker[Session], reads: Engine) -> None:
    for name in ("a", "b"):
        _task(sessions, name)
    running = _task(sessions, "c")
    with sessions.begin() as session:
        row = task_store.get_task(session, running)
        assert row is not None
        row.status = "running"

    with reads.connect() as connection:
        assert task_store.count_tasks_by_status(connection) == {"created": 2, "running": 1}


def test_enrollment_token_uses_are_claimed_once(sessions: sessionmaker[Session]) -> None:
    task_id = _task(sessions)
    now = utcnow()
    with sessions.begin() as session:
        once = client_store.insert_enrollment_token(
            session, task_id, token_hash="h-once", expires_at=now + timedelta(hours=1), max_uses=1
        )
        expired = client_store.insert_enrollment_token(
            session, task_id, token_hash="h-old", expires_at=now - timedelta(seconds=1), max_uses=None
        )
    with sessions() as session:
        found = client_store.find_enrollment_token(session, "h-once")
    assert found is not None and (found.id, found.uses, found.max_uses) == (once.id, 0, 1)

    claims = []
    attempts = [(once.id, task_id), (once.id, task_id), (expired.id, task_id), (once.id, "another task")]
    for token_id, claim_task in attempts:
        with sessions.begin() as session:
            claims.append(client_store.claim_enrollment_use(session, token_id, claim_task, now=now))
    assert claims == [True, False, False, False]


def _client(sessions: sessionmaker[Session], task_id: str, name: str) -> str:
    with sessions.begin() as session:
        return client_store.insert_client(
            session, task_id, name=name, hostname="edge", credential_hash=f"cred-{task_id}-{name}",
            node_public_key=None,
        ).id  # fmt: skip


def test_client_names_are_unique_per_task(sessions: sessionmaker[Session]) -> None:
    one, two = _task(sessions, "one"), _task(sessions, "two")
    client_id = _client(sessions, one, "edge-1")
    _client(sessions, two, "edge-1")  # the same name in another task is another client

    with pytest.raises(IntegrityError), sessions.begin() as session:
        client_store.insert_client(
            session, one, name="edge-1", hostname="h", credential_hash="other", node_public_key=None
        )
    with sessions() as session:
        row = client_store.find_client_by_name(session, one, "edge-1")
        assert row is not None and row.id == client_id
        assert (row.online, row.training, row.last_heartbeat_at, row.enrolled_at.tzinfo is not None) == (
            False, False, None, True,
        )  # fmt: skip
        assert client_store.list_clients(session, one, limit=10, offset=0)[1] == 1


def test_online_clients_need_a_recent_heartbeat(sessions: sessionmaker[Session], reads: Engine) -> None:
    task_id = _task(sessions)
    now = utcnow()
    since = now - timedelta(seconds=30)
    heard = {"recent": (True, now), "stale": (True, now - timedelta(minutes=5)), "offline": (False, now)}
    for name, (online, last_heartbeat_at) in heard.items():
        client_id = _client(sessions, task_id, name)
        with sessions.begin() as session:
            row = client_store.get_client(session, task_id, client_id)
            assert row is not None
            row.online, row.last_heartbeat_at = online, last_heartbeat_at
    _client(sessions, task_id, "never")  # enrolled, no heartbeat yet

    with reads.connect() as connection:
        counts = metric_store.client_counts(connection, since=since)[task_id]
    assert (counts.enrolled, counts.online) == (4, 1)


def test_manager_poll_state(sessions: sessionmaker[Session], reads: Engine) -> None:
    task_id = _task(sessions)
    with reads.connect() as connection:
        assert client_store.manager_poll_state(connection, "missing") is None
        assert client_store.manager_poll_state(connection, task_id) == client_store.ManagerPollState(
            "created", False, None, None
        )  # no server and no model version yet

    with sessions.begin() as session:
        session.add(
            ServerRow(
                task_id=task_id, provisioner="local", replicas=1, paused=False, resources={},
                token_hash="server-hash", ready=True, fleet_address="127.0.0.1:9092", reason="",
                observed_at=None, created_at=utcnow(),
            )
        )  # fmt: skip
    for round_number in (1, 2):
        with sessions.begin() as session:
            model_store.insert_model_version(
                session, task_id, round=round_number, checkpoint_uri="x", meta={}
            )

    with reads.connect() as connection:
        assert client_store.manager_poll_state(connection, task_id) == client_store.ManagerPollState(
            "created", True, "127.0.0.1:9092", 2
        )


def test_task_progress_is_grouped_over_a_page(sessions: sessionmaker[Session]) -> None:
    first, second, idle = _task(sessions, "a"), _task(sessions, "b"), _task(sessions, "c")
    now = utcnow()
    states = {
        "on": (True, True, now),
        "idle": (True, False, now),
        "stale": (True, True, now - timedelta(hours=1)),
    }
    for name, (online, training, heard) in states.items():
        client_id = _client(sessions, first, name)
        with sessions.begin() as session:
            row = client_store.get_client(session, first, client_id)
            assert row is not None
            row.online, row.training, row.last_heartbeat_at = online, training, heard
    _client(sessions, second, "never")  # enrolled, no heartbeat yet
    # Round 2 run twice (a crash), round 1 delivered late, clients already in round 3: the
    # highest round the server reported counts.
    reports = [
        _report_row(first, report_id, number)
        | {"kind": "server_round", "sender": "server", "client_id": None}
        for number, report_id in ((2, "r2-run-1"), (2, "r2-run-2"), (1, "r1"))
    ]
    with sessions.begin() as session:
        report_store.insert_reports(session, [*reports, _report_row(first, "c3", 3)])

    with sessions() as session:
        rounds = progress_store.rounds_completed(session, [first, second, idle])
        counts = progress_store.client_counts(
            session, [first, second, idle], heard_since=now - timedelta(seconds=30)
        )

    assert rounds == {first: 2}
    assert counts[first] == progress_store.ClientCounts(clients=3, online=2, training=1)
    assert counts[second] == progress_store.ClientCounts(clients=1, online=0, training=0)
    assert idle not in counts


def test_a_model_versions_checkpoint_is_recorded(sessions: sessionmaker[Session]) -> None:
    task_id = _task(sessions)
    with sessions.begin() as session:
        row = model_store.insert_model_version(session, task_id, round=1, checkpoint_uri="x", meta={})
        assert row.checkpoint_sha256 is None and row.checkpoint_stored_at is None
        model_store.record_checkpoint(session, row, sha256="ab" * 32, size=3 * 2**31)  # > 32 bits

    with sessions() as session:
        stored = model_store.get_model_version(session, task_id, 1)
        missing = model_store.get_model_version(session, task_id, 2)
    assert stored is not None and missing is None
    assert (stored.checkpoint_sha256, stored.checkpoint_size) == ("ab" * 32, 3 * 2**31)
    assert stored.checkpoint_stored_at is not None and stored.checkpoint_stored_at.tzinfo is not None


def test_console_sessions_are_found_by_hash_and_removed_when_expired(sessions: sessionmaker[Session]) -> None:
    from fedops_services.store import sessions as session_store

    now = utcnow()
    with sessions.begin() as session:
        session_store.insert_session(
            session, "a" * 64, "b" * 64, created_at=now, expires_at=now + timedelta(hours=1)
        )
        session_store.insert_session(
            session, "c" * 64, "d" * 64, created_at=now, expires_at=now - timedelta(seconds=1)
        )
    with sessions.begin() as session:
        found = session_store.find_session(session, "a" * 64)
        assert found is not None and found.admin_binding == "b" * 64
        assert found.expires_at.tzinfo is not None and found.expires_at > now
        assert session_store.delete_expired_sessions(session, now) == 1
        assert session_store.find_session(session, "c" * 64) is None
    with sessions.begin() as session:
        assert session_store.delete_session(session, "a" * 64) is True
        assert session_store.delete_session(session, "a" * 64) is False
    with sessions.begin() as session, pytest.raises(IntegrityError):  # one row per secret
        session_store.insert_session(session, "e" * 64, "", created_at=now, expires_at=now)
        session_store.insert_session(session, "e" * 64, "", created_at=now, expires_at=now)
