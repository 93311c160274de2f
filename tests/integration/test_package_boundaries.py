"""The SDK (`fedops`) stands without the services (`fedops_services`).

An edge install pulls no package only the services use; every SDK module imports, and the
`fedops` and `fedops-client` CLIs run, where `fedops_services` cannot be imported; `fedops up`
reaches the services only through the `fedops.cli` entry point fedops-services declares.
The import rules themselves are import-linter contracts (.importlinter, `make lint`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sysconfig
import tomllib
from importlib import metadata
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from fedops.cli import main, plugins

REPO = Path(__file__).resolve().parents[2]
# Declared by services/pyproject.toml and needed by nothing on an edge machine.
SERVICES_ONLY = frozenset(
    {
        "psycopg",
        "kubernetes",
        "prometheus-client",
        "prometheus-fastapi-instrumentator",
        "pydantic-settings",
        "python-multipart",
    }
)
# Flower 1.41 requires these itself (SuperLink ships in the flwr package): an edge install
# has them, but only through flwr.
FLOWER_WEB_STACK = frozenset({"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic"})

# Run by the shared third-party environment's interpreter with only sdk/src on its path:
# the view of an edge machine, where fedops_services does not exist.
_EDGE_MACHINE = r"""
import importlib, importlib.util, json, pkgutil, sys
from typer.testing import CliRunner
import fedops
for module in pkgutil.walk_packages(fedops.__path__, "fedops."):
    importlib.import_module(module.name)
from fedops.cli.main import app as admin_cli
from fedops.client.cli import app as client_cli
runs = {
    "fedops --help": CliRunner().invoke(admin_cli, ["--help"]),
    "fedops up": CliRunner().invoke(admin_cli, ["up", "--port", "8080"]),
    "fedops-client --help": CliRunner().invoke(client_cli, ["--help"]),
}
print(json.dumps({
    "fedops": fedops.__file__,
    "services_importable": importlib.util.find_spec("fedops_services") is not None,
    "services_imported": sorted(name for name in sys.modules if name.split(".")[0] == "fedops_services"),
    "runs": {command: [result.exit_code, result.output] for command, result in runs.items()},
}))
"""


def _declared(pyproject: Path) -> set[str]:
    """Every distribution a pyproject.toml names: dependencies and all optional extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    raw = [*project["dependencies"], *(requirement for extra in extras for requirement in extra)]
    return {canonicalize_name(Requirement(requirement).name) for requirement in raw}


def _installed_closure(distribution: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """What installing ``distribution[extras]`` pulls, read from the installed metadata."""
    pulled: dict[str, frozenset[str]] = {}
    pending = [(distribution, extras)]
    while pending:
        name, wanted = pending.pop()
        key = canonicalize_name(name)
        if key in pulled and wanted <= pulled[key]:
            continue
        pulled[key] = pulled.get(key, frozenset()) | wanted
        for requirement in map(Requirement, metadata.requires(name) or []):
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in wanted or {""}):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return set(pulled)


def _shared_environment_python() -> Path:
    """The interpreter of the shared third-party environment `make install` builds: it has
    no fedops distribution (each clone's .venv adds sdk/ and services/ on top, through its
    fedops-deps.pth), so what it imports beyond third-party packages is on PYTHONPATH."""
    pth = Path(sysconfig.get_path("purelib")) / "fedops-deps.pth"
    call = ast.parse(pth.read_text().split(";")[-1].strip()).body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call), pth.read_text()
    site_packages = Path(ast.literal_eval(call.value.args[0]))
    return site_packages.parents[2] / "bin" / "python"  # <env>/lib/python3.X/site-packages


def test_the_sdk_declares_no_package_of_the_services() -> None:
    sdk = _declared(REPO / "sdk" / "pyproject.toml")
    services = _declared(REPO / "services" / "pyproject.toml") - {"fedops"}

    assert not sdk & services
    assert not sdk & (SERVICES_ONLY | FLOWER_WEB_STACK)


def test_an_edge_install_pulls_the_web_stack_only_through_flower() -> None:
    edge = _installed_closure("fedops", frozenset({"client"}))
    flower = _installed_closure("flwr")

    assert not edge & SERVICES_ONLY
    assert flower >= FLOWER_WEB_STACK  # if Flower drops them, the README's explanation is stale
    assert not (edge - flower) & FLOWER_WEB_STACK
    assert _installed_closure("fedops-services") >= SERVICES_ONLY  # the names above are real


def test_the_sdk_imports_and_runs_where_the_services_do_not_exist() -> None:
    python = _shared_environment_python()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "FLWR_TELEMETRY_ENABLED": "0"}
    env["PYTHONPATH"] = str(REPO / "sdk" / "src")
    result = subprocess.run(
        [str(python), "-s", "-c", _EDGE_MACHINE], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr

    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(seen["fedops"]).is_relative_to(REPO / "sdk" / "src")
    assert seen["services_importable"] is False
    assert seen["services_imported"] == []
    runs = seen["runs"]
    assert runs["fedops --help"][0] == 0
    assert "pip install fedops-services" in runs["fedops --help"][1]  # `up` is listed with the hint
    exit_code, output = runs["fedops up"]
    assert exit_code == 1
    assert "comes with the fedops-services package" in output
    assert "pip install fedops-services" in output
    assert runs["fedops-client --help"][0] == 0


def test_fedops_up_is_the_command_of_the_installed_services() -> None:
    from fedops_services import cli as services_cli

    (entry,) = [entry for entry in metadata.entry_points(group=plugins.PLUGIN_GROUP) if entry.name == "up"]
    assert entry.load() is services_cli.up

    shown = CliRunner().invoke(main.app, ["up", "--help"])
    assert shown.exit_code == 0, shown.output
    for option in ("--data-dir", "--host", "--port", "--log-level"):
        assert option in shown.output
    assert "not installed" not in CliRunner().invoke(main.app, ["--help"]).output


# --- discovery, with entry points made up for the test ------------------------------------

extra_commands = typer.Typer()


@extra_commands.command()
def ping() -> None:
    typer.echo("pong")


def _cli_with(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> typer.Typer:
    def installed(*, group: str) -> list[EntryPoint]:
        return [entry for entry in entries if entry.group == group]

    monkeypatch.setattr(plugins, "entry_points", installed)
    app = typer.Typer()

    @app.command()
    def hello() -> None:
        typer.echo("hello")

    plugins.add_plugin_commands(app)
    return app


def test_without_the_services_fedops_up_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _cli_with(monkeypatch)

    refused = CliRunner().invoke(app, ["up", "--data-dir", "/srv/fedops", "--port", "9000"])

    assert refused.exit_code == 1
    assert "pip install fedops-services" in refused.output
    assert "No such option" not in refused.output
    assert "pip install fedops-services" in CliRunner().invoke(app, ["--help"]).output


def test_a_broken_plugin_is_reported_and_the_rest_of_the_cli_works(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _cli_with(monkeypatch, EntryPoint("up", "no_such_package.cli:up", plugins.PLUGIN_GROUP))

    broken = CliRunner().invoke(app, ["up"])

    assert broken.exit_code == 1
    assert "no_such_package.cli:up" in broken.output and "ModuleNotFoundError" in broken.output
    assert CliRunner().invoke(app, ["hello"]).output == "hello\n"


def test_a_plugin_may_add_a_group_of_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = EntryPoint("extra", f"{__name__}:extra_commands", plugins.PLUGIN_GROUP)
    app = _cli_with(monkeypatch, entry, EntryPoint("ignored", "x:y", "another.group"))

    assert CliRunner().invoke(app, ["extra", "ping"]).output == "pong\n"
    assert CliRunner().invoke(app, ["ignored"]).exit_code == 2  # no such command
    assert CliRunner().invoke(app, ["up"]).exit_code == 1  # still the stand-in: no services here


def impostor() -> None:
    typer.echo("impostor")


def test_a_plugin_never_replaces_a_built_in_command(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _cli_with(monkeypatch, EntryPoint("hello", f"{__name__}:impostor", plugins.PLUGIN_GROUP))

    assert CliRunner().invoke(app, ["hello"]).output == "hello\n"
