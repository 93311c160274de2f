"""docker-compose.yml cannot be run here (no Docker engine); check what can be checked.

Structure as Compose reads it, references between services, the Dockerfile it builds,
that every FEDOPS_* variable it sets is a real setting, and the monitoring wiring: what
Prometheus scrapes and loads (``promtool check config`` with the mounts resolved to the
repository's files), and where Grafana's provisioning points (through the same mounts).
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from fedops_services import cli
from fedops_services.config import Settings
from tests.support.prometheus import PROMTOOL

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def _bind_mounts(service: str) -> dict[Path, tuple[Path, bool]]:
    """container path -> (path in the repository, read-only) of a service's bind mounts."""
    mounts = {}
    for volume in _compose()["services"][service].get("volumes", []):
        source, target, *mode = volume.split(":")
        if source.startswith("."):
            mounts[Path(target)] = ((REPO / source).resolve(), mode == ["ro"])
    return mounts


def _on_host(service: str, container_path: str) -> Path:
    """Where ``container_path`` inside ``service`` comes from in the repository."""
    path = Path(container_path)
    for target, (source, _) in _bind_mounts(service).items():
        if path == target or target in path.parents:
            return source / path.relative_to(target)
    raise AssertionError(f"{container_path} is not mounted into {service}")


def test_services_reference_what_exists() -> None:
    compose = _compose()
    services = compose["services"]

    assert set(services) == {"postgres", "fedops", "prometheus", "grafana"}
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), name
        for dependency in service.get("depends_on", {}):
            assert dependency in services
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"] or (REPO / source).exists(), volume
    build = services["fedops"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_images_are_pinned_to_a_version() -> None:
    for name, service in _compose()["services"].items():
        if "image" in service:
            assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)*", service["image"]), (name, service["image"])


def test_prometheus_scrapes_the_services_and_its_config_passes_promtool(tmp_path: Path) -> None:
    compose = _compose()
    prometheus = compose["services"]["prometheus"]
    config_flag = next(arg for arg in prometheus["command"] if arg.startswith("--config.file="))
    config_path = _on_host("prometheus", config_flag.split("=", 1)[1])
    config: dict[str, Any] = yaml.safe_load(config_path.read_text())
    fedops_port = compose["services"]["fedops"]["command"][-1]

    targets = [
        t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]
    ]
    assert targets == [f"fedops:{fedops_port}"]
    assert all(read_only for _, read_only in _bind_mounts("prometheus").values())
    # The same configuration with the rule files where the mounts take them from.
    rule_files = [_on_host("prometheus", path) for path in config["rule_files"]]
    assert rule_files == [REPO / "charts" / "fedops" / "files" / "rules" / "fedops-alerts.yml"]
    assert all(path.is_file() for path in rule_files), rule_files
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump({**config, "rule_files": [str(path) for path in rule_files]}))
    checked = subprocess.run([str(PROMTOOL), "check", "config", str(local)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def _provisioning(kind: str) -> list[dict[str, Any]]:
    """Grafana's provisioning documents of ``kind`` (datasources, dashboards), as mounted."""
    directory = _on_host("grafana", f"/etc/grafana/provisioning/{kind}")
    documents = [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.y*ml"))]
    assert documents and all(document["apiVersion"] == 1 for document in documents), kind
    return documents


def _datasource_references(node: Any) -> Iterator[tuple[str, str]]:
    """(type, uid) of every data source a dashboard names (panels, targets, variables)."""
    if isinstance(node, dict):
        reference = node.get("datasource")
        if isinstance(reference, dict):
            yield reference.get("type", ""), reference.get("uid", "")
        for value in node.values():
            yield from _datasource_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _datasource_references(value)


def test_grafana_reads_prometheus_and_the_charts_dashboards() -> None:
    compose = _compose()
    (datasource,) = [entry for document in _provisioning("datasources") for entry in document["datasources"]]
    (provider,) = [entry for document in _provisioning("dashboards") for entry in document["providers"]]

    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in compose["services"]["prometheus"]["ports"]
    assert provider["type"] == "file"
    dashboards = _on_host("grafana", provider["options"]["path"])
    assert dashboards == REPO / "charts" / "fedops" / "files" / "dashboards"
    assert all(read_only for _, read_only in _bind_mounts("grafana").values())
    assert sorted(dashboards.glob("*.json")), f"no dashboards in {dashboards}"
    for path in sorted(dashboards.glob("*.json")):  # each reaches the provisioned data source
        references = set(_datasource_references(json.loads(path.read_text())))
        assert references <= {("prometheus", "${datasource}"), ("prometheus", datasource["uid"])}, path.name
    assert re.search(
        r"\$\{GRAFANA_ADMIN_PASSWORD:\?",
        compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"],
    )


def test_every_fedops_variable_is_a_setting() -> None:
    environment = _compose()["services"]["fedops"]["environment"]
    settings = {f"FEDOPS_{name.upper()}" for name in Settings.model_fields}

    assert {key for key in environment if key.startswith("FEDOPS_")} <= settings


def test_ports_publish_on_loopback_only_and_secrets_are_required() -> None:
    services = _compose()["services"]
    fedops = services["fedops"]

    assert all(
        port.startswith("127.0.0.1:") for service in services.values() for port in service.get("ports", [])
    )
    assert re.search(r"\$\{FEDOPS_ADMIN_TOKEN:\?", fedops["environment"]["FEDOPS_ADMIN_TOKEN"])


def test_the_dockerfile_runs_as_non_root_and_installs_nothing_at_run_time() -> None:
    dockerfile = (REPO / "docker" / "services.Dockerfile").read_text()

    assert re.search(r"^USER \d+", dockerfile, re.MULTILINE)
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (REPO / copied).exists(), copied
    assert "pip install" not in dockerfile.split("CMD", 1)[1]


def test_the_image_and_compose_run_the_services_entry_point() -> None:
    dockerfile = (REPO / "docker" / "services.Dockerfile").read_text()
    cmd_line = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd_line is not None
    command = json.loads(cmd_line.group(1))
    scripts = tomllib.loads((REPO / "services" / "pyproject.toml").read_text())["project"]["scripts"]

    assert command == _compose()["services"]["fedops"]["command"]
    assert scripts[command[0]] == "fedops_services.cli:main"
    # The command and its options exist (--help after them: nothing starts).
    shown = CliRunner().invoke(cli.app, [*command[1:], "--help"])
    assert shown.exit_code == 0, shown.output
    assert "--port" in shown.output
