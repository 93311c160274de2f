"""Settings and the admin-token rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedops_services.config import KubernetesSettings, Settings
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


def test_kubernetes_settings_come_from_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDOPS_PROVISIONER", "kubernetes")
    monkeypatch.setenv("FEDOPS_KUBERNETES_SERVICE_TYPE", "LoadBalancer")
    monkeypatch.setenv("FEDOPS_COMPONENTS", "registry")

    settings = Settings()

    assert settings.provisioner == "kubernetes" and settings.kubernetes.service_type == "LoadBalancer"
    assert settings.components == frozenset({"registry"})


def test_fleet_tls_on_kubernetes_needs_the_secret_and_its_mounted_files(tmp_path: Path) -> None:
    files = {f"fleet_tls_{part}": tmp_path / part for part in ("cert", "key", "ca")}
    with pytest.raises(ValueError, match="FEDOPS_KUBERNETES_FLEET_TLS_SECRET"):
        Settings(provisioner="kubernetes", **files)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="FEDOPS_KUBERNETES_FLEET_TLS_SECRET"):
        Settings(provisioner="kubernetes", kubernetes=KubernetesSettings(fleet_tls_secret="fleet-tls"))
    both = Settings(provisioner="kubernetes", kubernetes=KubernetesSettings(fleet_tls_secret="tls"), **files)  # type: ignore[arg-type]
    assert both.fleet_tls
