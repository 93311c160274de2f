"""docker-compose.yml cannot be run here (no Docker engine); check what can be checked.

Structure as Compose reads it, references between services, the Dockerfile it builds,
and that every FEDOPS_* variable it sets is a real setting.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from fedops_services import cli
from fedops_services.config import Settings

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def test_services_reference_what_exists() -> None:
    compose = _compose()
    services = compose["services"]

    assert set(services) == {"postgres", "fedops"}
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), name
        for dependency in service.get("depends_on", {}):
            assert dependency in services
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"]
    build = services["fedops"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_every_fedops_variable_is_a_setting() -> None:
    environment = _compose()["services"]["fedops"]["environment"]
    settings = {f"FEDOPS_{name.upper()}" for name in Settings.model_fields}

    assert {key for key in environment if key.startswith("FEDOPS_")} <= settings


def test_ports_publish_on_loopback_only_and_secrets_are_required() -> None:
    fedops = _compose()["services"]["fedops"]

    assert all(port.startswith("127.0.0.1:") for port in fedops["ports"])
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
