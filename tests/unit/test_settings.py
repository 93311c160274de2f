"""Settings and the admin-token rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedops_services.config import Settings
from fedops_services.container import resolve_admin_token


def test_a_shared_database_refuses_to_start_without_an_admin_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://db/fedops", admin_token=None)

    with pytest.raises(SystemExit, match="FEDOPS_ADMIN_TOKEN is required"):
        resolve_admin_token(settings)


def test_short_admin_tokens_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="at least 16"):
        resolve_admin_token(Settings(data_dir=tmp_path, admin_token="short"))


def test_the_embedded_default_generates_one_token_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_token=None)

    first = resolve_admin_token(settings)
    second = resolve_admin_token(settings)

    assert first == second and first.startswith("fedops_adm_") and len(first) > 40
    assert (tmp_path / "admin-token").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_the_installed_driver() -> None:
    assert Settings(database_url="postgresql://u@h/db").resolved_database_url == "postgresql+psycopg://u@h/db"
    assert Settings(database_url="postgres://u@h/db").resolved_database_url == "postgresql+psycopg://u@h/db"
