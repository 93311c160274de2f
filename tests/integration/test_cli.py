"""The `fedops` CLI against a real embedded stack (SQLite, local provisioner, generated token)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import wait_until
from tests.support.stack import FedopsStack
from tests.unit.test_fedops_config import FEDOPS_CONFIG
from tooling.local_federation import kill_supervisors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedopsStack]:
    root = tmp_path_factory.mktemp("embedded")
    stack = FedopsStack(root / "data", env={"FEDOPS_DATABASE_URL": "", "FEDOPS_ADMIN_TOKEN": ""})
    for key in ("FEDOPS_DATABASE_URL", "FEDOPS_ADMIN_TOKEN"):
        stack.env.pop(key)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        kill_supervisors(root / "data" / "servers")


def fedops(stack: FedopsStack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_")}
    env |= {"FEDOPS_URL": stack.url, "FEDOPS_DATA_DIR": str(stack.data_dir)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("fedops")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_embedded_default_generates_a_private_admin_token(embedded: FedopsStack) -> None:
    token_file = embedded.data_dir / "admin-token"

    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert (embedded.data_dir / "fedops.db").exists()
    log = embedded.process.output() if embedded.process else ""
    assert token_file.read_text().strip() not in log  # said where, never what


def test_task_lifecycle_from_the_cli(embedded: FedopsStack, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: cli-task\nrounds: 2\nxai:\n  enabled: true\n")

    created = as_json(fedops(embedded, "task", "create", "-f", str(spec), "--json"))
    listed = fedops(embedded, "task", "list")
    shown = as_json(fedops(embedded, "task", "show", created["id"], "--json"))
    spec.write_text("name: cli-task\nrounds: 4\n")
    updated = as_json(fedops(embedded, "task", "update", created["id"], "-f", str(spec), "--json"))

    assert created["spec"]["xai"]["enabled"] is True
    assert "cli-task" in listed.stdout and "STATUS" in listed.stdout
    assert shown["spec"]["rounds"] == 2 and updated["revision"] == 2
    fedops(embedded, "task", "delete", created["id"])
    missing = fedops(embedded, "task", "show", created["id"], "--json", check=False)
    assert missing.returncode == 1 and as_json(missing)["error"]["code"] == "task_not_found"


def test_the_example_task_creates(embedded: FedopsStack) -> None:
    example = Path(__file__).resolve().parents[2] / "clients" / "mnist-xai" / "task.yaml"

    created = as_json(fedops(embedded, "task", "create", "-f", str(example), "--json"))

    assert created["name"] == "mnist-xai" and created["spec"]["xai"]["target_layer"] == "conv2"


def test_fedops_config_conversion_from_the_cli(embedded: FedopsStack, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(FEDOPS_CONFIG)

    result = fedops(embedded, "task", "create", "--from-fedops-config", str(config), "--name", "from-fedops")

    assert "created task from-fedops" in result.stdout
    assert "note: wandb.use" in result.stderr and "wandb api key" not in result.stderr


def test_invalid_spec_names_the_field_and_exits_non_zero(embedded: FedopsStack, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: ok\nresources:\n  gpu: '0.5'\n")

    result = fedops(embedded, "task", "create", "-f", str(spec), check=False)

    assert result.returncode == 1 and "resources.gpu" in result.stderr


def test_server_commands(embedded: FedopsStack, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: served\n")
    task_id = as_json(fedops(embedded, "task", "create", "-f", str(spec), "--json"))["id"]

    fedops(embedded, "server", "provision", task_id)
    wait_until(
        lambda: as_json(fedops(embedded, "server", "status", task_id, "--json"))["ready_replicas"] == 1,
        timeout=60, interval=0.5, what="ready server",
    )  # fmt: skip
    paused = as_json(fedops(embedded, "server", "pause", task_id, "--json"))
    resumed = as_json(fedops(embedded, "server", "resume", task_id, "--json"))
    refused = fedops(embedded, "server", "scale", task_id, "--replicas", "3", check=False)
    scaled = as_json(fedops(embedded, "server", "scale", task_id, "--memory", "1Gi", "--json"))
    logs = fedops(embedded, "server", "logs", task_id, "--tail", "20")
    token = as_json(fedops(embedded, "client", "token", task_id, "--json"))
    clients = as_json(fedops(embedded, "client", "list", task_id, "--json"))
    fedops(embedded, "server", "delete", task_id)

    assert paused["replicas"] == 0 and resumed["paused"] is False
    assert refused.returncode == 1 and "replicas: a server runs at most 1 replica" in refused.stderr
    assert scaled["resources"]["memory"] == "1Gi"
    assert "[supervisor]" in logs.stdout
    assert token["token"].startswith("fedops_enr_") and clients["count"] == 0
    gone = fedops(embedded, "server", "status", task_id, "--json", check=False)
    assert as_json(gone)["error"]["code"] == "server_not_provisioned"


def test_model_download_writes_a_chosen_version_and_refuses_one_without_a_file(
    embedded: FedopsStack, tmp_path: Path
) -> None:
    import hashlib

    import httpx

    token = (embedded.data_dir / "admin-token").read_text().strip()
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: models\n")
    task = as_json(fedops(embedded, "task", "create", "-f", str(spec), "--json"))
    files = {1: b"weights of round 1", 2: b"weights of round 2", 3: b"never uploaded"}
    with httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {token}"}) as api:
        for number, content in files.items():
            meta = {"sha256": hashlib.sha256(content).hexdigest()}
            api.post(
                f"/api/v1/tasks/{task['id']}/models",
                json={"round": number, "checkpoint_uri": f"file:///r{number}.npz", "metadata": meta},
            ).raise_for_status()
            if number < 3:
                api.put(
                    f"/api/v1/monitoring/tasks/{task['id']}/models/{number}/checkpoint", content=content
                ).raise_for_status()

    download = ("model", "download", task["id"])
    chosen = as_json(fedops(embedded, *download, "--version", "2", "-o", str(tmp_path / "m.npz"), "--json"))
    first = fedops(embedded, *download, "--version", "1", "-o", str(tmp_path / "one.npz"))
    latest = fedops(embedded, *download, "-o", str(tmp_path / "latest.npz"), "--json", check=False)

    assert chosen == {"task_id": task["id"], "version": 2, "path": str(tmp_path / "m.npz"), "size_bytes": 18}
    assert (tmp_path / "m.npz").read_bytes() == files[2]
    assert "model version 1" in first.stdout and (tmp_path / "one.npz").read_bytes() == files[1]
    assert latest.returncode == 1 and as_json(latest)["error"]["code"] == "checkpoint_not_available"  # v3
    assert not (tmp_path / "latest.npz").exists()
    assert not list(tmp_path.glob(".fedops-model-*"))  # no partial file left behind
