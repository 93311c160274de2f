"""The metrics' store functions and the backfill of the reports' value columns, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

from fedops_services.db import autocommit_reads, make_engine, make_session_factory
from fedops_services.db.tables import ReportRow, TaskRow, utcnow
from fedops_services.store import clients as client_store
from fedops_services.store import metrics as metric_store
from fedops_services.store import reports as report_store
from fedops_services.store import tasks as task_store
from fedops_services.store.report_values import KIND_OF, value_column, values_of
from tests.integration.test_migrations import _alembic

BEFORE_REPORT_VALUES = "c5d1a7e3b9f0"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _server_body(task_id: str, round_number: int, total: float) -> dict[str, object]:
    return {
        "kind": "server_round", "report_id": f"s{round_number}", "task_id": task_id, "round": round_number,
        "num_clients": 2, "timings": {"wait": total / 2, "total": total},
    }  # fmt: skip


def _row(task_id: str, body: dict[str, object]) -> dict[str, object]:
    return {
        "task_id": task_id, "report_id": body["report_id"], "kind": body["kind"], "sender": "server",
        "round": body["round"], "client_id": None, "body": body, "received_at": utcnow(),
    }  # fmt: skip


def test_values_are_extracted_once_and_bucketed_by_the_database(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        task_id = task_store.insert_task(session, "t", {"name": "t", "rounds": 3}).id
    rows = [_row(task_id, _server_body(task_id, number, total)) for number, total in ((1, 0.4), (2, 7.0))]
    for _ in range(2):  # the second insert is a resend
        with sessions.begin() as session:
            report_store.insert_reports(session, rows, extract_values=True)

    with autocommit_reads(engine).connect() as connection:
        histograms = metric_store.value_histograms(connection, ["round_seconds"], [0.5, 5.0, 10.0])
        progress = metric_store.round_progress(connection)

    assert histograms[(task_id, "round_seconds")] == metric_store.Histogram((1, 1, 2), 2, 7.4)
    assert progress[task_id].completed == 2 and progress[task_id].last_round == 2


def test_every_database_extracts_the_same_values_as_the_python_rule(engine: Engine) -> None:
    """PostgreSQL extracts the value columns in SQL, SQLite through ``column_values``: both
    must store exactly what ``column_values`` says, odd bodies included."""
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        task_id = task_store.insert_task(session, "t", {"name": "t"}).id
    bodies: list[dict[str, object]] = [
        _server_body(task_id, 1, 3.0) | {"num_failures": 1},
        {"kind": "server_round", "report_id": "odd", "task_id": task_id, "round": 2, "num_clients": True,
         "timings": {"total": "3", "wait": 0}},
        {"kind": "client_round", "report_id": "c1", "task_id": task_id, "round": 1, "client_id": "c",
         "num_train_examples": 50, "explanations_generated": 10,
         "timings": {"train": 1.5, "xai": 0.25, "total": 2, "upload": None}},
        {"kind": "client_round", "report_id": "c2", "task_id": task_id, "round": 1, "client_id": "c"},
        {"kind": "system", "report_id": "s", "task_id": task_id, "round": None, "cpu_percent": 5.0},
    ]  # fmt: skip
    with sessions.begin() as session:
        report_store.insert_reports(session, [_row(task_id, body) for body in bodies], extract_values=True)

    names = list(KIND_OF)
    with engine.connect() as connection:
        query = select(ReportRow.report_id, ReportRow.kind, ReportRow.body, *map(value_column, names))
        stored = connection.execute(query.where(ReportRow.task_id == task_id)).all()
    assert len(stored) == len(bodies)
    for report_id, kind, body, *values in stored:
        expected = {name: values_of(kind, body).get(name) for name in names}
        assert dict(zip(names, values, strict=True)) == expected, report_id


def test_recent_clients_keeps_those_heard_from_last(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    with sessions.begin() as session:
        task_id = task_store.insert_task(session, "t", {"name": "t"}).id
        for name, seen in (("never", None), ("old", now - timedelta(hours=1)), ("new", now), ("b-new", now)):
            client = client_store.insert_client(
                session,
                task_id,
                name=name,
                hostname="",
                credential_hash=name.ljust(64, "0"),
                node_public_key=None,
            )
            client.last_heartbeat_at = seen

    with autocommit_reads(engine).connect() as connection:
        kept = metric_store.recent_clients(connection, per_task=3)

    assert [client.name for client in kept] == ["b-new", "new", "old"]


def test_the_migration_backfills_reports_stored_before_it(database_url: str) -> None:
    assert _alembic(database_url, "downgrade", BEFORE_REPORT_VALUES).returncode == 0
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:  # only tables and columns that existed before
            connection.execute(
                insert(TaskRow).values(
                    id="t1", name="t", status="running", status_reason="", revision=1, spec={},
                    created_at=utcnow(), updated_at=utcnow(),
                )
            )  # fmt: skip
            connection.execute(insert(ReportRow), [_row("t1", _server_body("t1", 1, 3.0))])

        upgraded = _alembic(database_url, "upgrade", "head")
        assert upgraded.returncode == 0, upgraded.stderr

        with engine.connect() as connection:
            names = [name for name, kind in KIND_OF.items() if kind == "server_round"]
            query = select(*(value_column(name) for name in names)).where(ReportRow.task_id == "t1")
            stored = connection.execute(query).one()
            values = {name: value for name, value in zip(names, stored, strict=True) if value is not None}
    finally:
        engine.dispose()
    assert values == {
        "round_seconds": 3.0, "round_participants": 2.0, "server_phase_seconds:wait": 1.5,
    }  # fmt: skip


def test_a_late_report_of_an_older_round_does_not_turn_the_latest_back(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        task_id = task_store.insert_task(session, "t", {"name": "t"}).id
    for number in (2, 1):  # round 1's report arrives after round 2's (a spool catching up)
        with sessions.begin() as session:
            rows = [_row(task_id, _server_body(task_id, number, float(number)))]
            report_store.insert_reports(session, rows, extract_values=True)

    with autocommit_reads(engine).connect() as connection:
        latest = metric_store.latest_server_reports(connection)

    assert latest[task_id]["round"] == 2
