"""Models and migrations never drift: `alembic upgrade head` then `alembic check`, per backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _alembic(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    alembic = str(Path(sys.executable).with_name("alembic"))
    return subprocess.run(
        [alembic, *args],
        cwd=REPO,
        env={**os.environ, "FEDOPS_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_head_then_check_finds_no_drift(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:  # an empty database: the template copy is already migrated, so drop to base first
        url = request.getfixturevalue("postgres_database_url")
        assert _alembic(url, "downgrade", "base").returncode == 0

    upgrade = _alembic(url, "upgrade", "head")
    check = _alembic(url, "check")

    assert upgrade.returncode == 0, upgrade.stderr
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_there_is_one_head() -> None:
    heads = _alembic("sqlite://", "heads")

    assert heads.returncode == 0 and len(heads.stdout.strip().splitlines()) == 1


def _migrate_job(database_url: str, wait_seconds: str) -> subprocess.CompletedProcess[str]:
    """What the Helm chart's migration Job runs."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("fedops-services")), "migrate"],
        env={**os.environ, "FEDOPS_DATABASE_URL": database_url, "FEDOPS_MIGRATE_WAIT_SECONDS": wait_seconds},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_migration_job_brings_a_database_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'job.db'}"

    first, again = _migrate_job(url, "5"), _migrate_job(url, "5")

    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "schema is at head" in again.stderr
    assert _alembic(url, "check").returncode == 0


def test_the_migration_job_gives_up_on_an_unreachable_database_with_a_clear_message() -> None:
    from fedops.ports import free_port

    result = _migrate_job(f"postgresql://fedops:x@127.0.0.1:{free_port()}/fedops", "1")

    assert result.returncode != 0
    assert "the database is not reachable after 1 s" in result.stderr


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_stored_specs_with_more_than_one_replica_are_lowered_to_one(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, insert, select

    from fedops.spec import TaskSpec
    from fedops_services.config import Settings
    from fedops_services.db.tables import ServerRow, TaskRevisionRow, TaskRow, utcnow

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
        assert _alembic(url, "downgrade", "base").returncode == 0
    assert _alembic(url, "upgrade", "b7c3e1a9d2f4").returncode == 0  # before the one-replica rule
    spec = TaskSpec(name="wide").to_document()
    spec["resources"]["replicas"] = 3  # what the old schema accepted (up to 16)
    now = utcnow()
    engine = create_engine(Settings(database_url=url).resolved_database_url)
    with engine.begin() as connection:
        connection.execute(insert(TaskRow).values(
            id="a" * 32, name="wide", status="ready", status_reason="", revision=1, spec=spec,
            created_at=now, updated_at=now,
        ))  # fmt: skip
        connection.execute(insert(TaskRevisionRow).values(
            task_id="a" * 32, revision=1, spec=spec, created_at=now
        ))  # fmt: skip
        connection.execute(insert(ServerRow).values(
            task_id="a" * 32, provisioner="kubernetes", replicas=3, paused=False, resources=spec["resources"],
            token_hash="0" * 64, ready=True, fleet_address=None, reason="", observed_at=None, created_at=now,
        ))  # fmt: skip

    upgrade = _alembic(url, "upgrade", "head")

    assert upgrade.returncode == 0, upgrade.stderr
    with engine.connect() as connection:
        task_spec = connection.scalar(select(TaskRow.spec))
        revision_spec = connection.scalar(select(TaskRevisionRow.spec))
        server = connection.execute(select(ServerRow.replicas, ServerRow.resources)).one()
    engine.dispose()
    assert task_spec is not None and revision_spec is not None
    assert TaskSpec.model_validate(task_spec).resources.replicas == 1
    assert TaskSpec.model_validate(revision_spec).resources.replicas == 1
    assert server.replicas == 1 and server.resources["replicas"] == 1
    assert {key: value for key, value in task_spec.items() if key != "resources"} == {
        key: value for key, value in spec.items() if key != "resources"
    }
