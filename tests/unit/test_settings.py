"""Settings and the admin-token rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fedops_services.config import DEFAULT_SERVER_COMMAND, KubernetesSettings, Settings
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
    both = Settings(
        provisioner="kubernetes",
        kubernetes=KubernetesSettings(fleet_tls_secret="tls", service_type="LoadBalancer"),
        **files,  # type: ignore[arg-type]
    )
    assert both.fleet_tls


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        (
            "{python} -m fedops_services.flserver --port {prot}",
            "unknown placeholder {prot}; known ones: {python}",
        ),
        ("{python} -m fedops_services.flserver --port {port", "unbalanced braces in '{port'"),
        ("{python} -c 'print(1)}'", "unbalanced braces"),
        ('{python} -m "fedops_services.flserver', "cannot be split into words: No closing quotation"),
        ("{python} {0}", "unknown placeholder {0}"),
        ("{python} --port {port:d}", "cannot fill '{port:d}'"),
    ],
)
def test_a_server_command_that_cannot_work_is_refused_at_start_up(
    template: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDOPS_SERVER_COMMAND", template)

    with pytest.raises(ValidationError) as refused:
        Settings()

    (error,) = refused.value.errors()
    assert (
        error["loc"] == ("server_command",)
        and "FEDOPS_SERVER_COMMAND" in error["msg"]
        and says in error["msg"]
    )


def test_a_server_command_with_known_placeholders_and_literal_braces_is_accepted() -> None:
    template = (
        "{python} -m fedops_services.flserver --port {port} --data-dir {data_dir} --tag {{x}}-{task_name}"
    )

    assert Settings(server_command=template).server_command == template
    assert Settings().server_command == DEFAULT_SERVER_COMMAND


def test_kubernetes_needs_an_explicit_choice_of_how_edge_machines_reach_servers() -> None:
    with pytest.raises(ValidationError, match="choose how edge machines reach FL servers"):
        Settings(provisioner="kubernetes")
    with pytest.raises(ValidationError, match="NodePort needs FEDOPS_KUBERNETES_ADVERTISE_HOST"):
        KubernetesSettings(service_type="NodePort")
    with pytest.raises(ValidationError, match=r"unknown placeholder \{task\}"):
        KubernetesSettings(service_type="ClusterIP", fleet_address="{task}.fl.example.org:443")

    assert Settings(provisioner="kubernetes", kubernetes=KubernetesSettings(service_type="LoadBalancer"))
    node_port = KubernetesSettings(service_type="NodePort", advertise_host="edge.example.org")
    routed = KubernetesSettings(service_type="ClusterIP", fleet_address="{task_name}.fl.example.org:443")
    assert node_port.edge_reachable and routed.edge_reachable
    assert not KubernetesSettings(service_type="ClusterIP").edge_reachable  # accepted: in-cluster clients


@pytest.mark.parametrize("prefix", ["", "/fedops", "/tools/fedops-1.2", "/a_b~c"])
def test_usable_path_prefixes_are_accepted(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDOPS_PATH_PREFIX", prefix)
    assert Settings().path_prefix == prefix


@pytest.mark.parametrize(
    "prefix", ["/", "fedops", "/fedops/", "/a//b", "/a/../b", "/..", "/a b", "/é", "/a?b"]
)
def test_path_prefixes_that_routes_or_cookies_would_misread_are_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="FEDOPS_PATH_PREFIX"):
        Settings(path_prefix=prefix)


def test_sessions_last_twelve_hours_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().session_ttl_seconds == 12 * 3600
    monkeypatch.setenv("FEDOPS_SESSION_TTL_SECONDS", "600")
    assert Settings().session_ttl_seconds == 600
    with pytest.raises(ValidationError):
        Settings(session_ttl_seconds=10)
