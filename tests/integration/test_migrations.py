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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
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
        [sys.executable, "-m", "fedops_services.db.migrate"],
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
    from tests.support.ports import free_port

    result = _migrate_job(f"postgresql://fedops:x@127.0.0.1:{free_port()}/fedops", "1")

    assert result.returncode != 0
    assert "the database is not reachable after 1 s" in result.stderr
