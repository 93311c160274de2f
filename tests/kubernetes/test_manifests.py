"""manifests/base: the chart's defaults as plain manifests (kustomize), kept in sync.

The base may differ from `helm template` of the chart (release and namespace "fedops",
without the helm test) in exactly these ways, which are normalised here and nowhere else:
the chart's generated Secrets are missing (users create them, manifests/README.md), the
pods' ``checksum/secret`` annotation (a hash of those random values) is missing, and the
migration Job has no Helm hook annotations.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.support.kube_cluster import KubeCluster, kube_bin_dir

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "manifests" / "base"
README = REPO / "manifests" / "README.md"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return kube_bin_dir()


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def documents(text: str) -> list[Obj]:
    return [document for document in yaml.safe_load_all(text) if document]


def chart(bin_dir: Path) -> list[Obj]:
    helm = str(bin_dir / "helm")
    return documents(
        run(helm, "template", "fedops", str(REPO / "charts" / "fedops"), "-n", "fedops", "--skip-tests")
    )


def base(bin_dir: Path) -> list[Obj]:
    return documents(run(str(bin_dir / "kubectl"), "kustomize", str(BASE)))


def key(item: Obj) -> tuple[str, str, str]:
    return item["apiVersion"], item["kind"], item["metadata"]["name"]


def drop_annotations(metadata: Obj, prefix: str) -> None:
    annotations = {k: v for k, v in metadata.get("annotations", {}).items() if not k.startswith(prefix)}
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations


def normalise(objects: list[Obj]) -> dict[tuple[str, str, str], Obj]:
    result = {}
    for item in objects:
        if item["kind"] == "Secret":
            continue
        drop_annotations(item["metadata"], "helm.sh/hook")
        if "template" in item.get("spec", {}):
            drop_annotations(item["spec"]["template"]["metadata"], "checksum/secret")
        result[key(item)] = item
    return result


def secret_key_refs(node: Any, found: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        if isinstance(reference := node.get("secretKeyRef"), dict):
            found.add((reference["name"], reference["key"]))
        for value in node.values():
            secret_key_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            secret_key_refs(value, found)


def readme_install_script() -> str:
    install = README.read_text().split("## Install", 1)[1]
    match = re.search(r"```sh\n(.*?)```", install, re.DOTALL)
    assert match
    return match.group(1)


def created_secrets(script: str) -> dict[str, set[str]]:
    """Secret name -> keys, from the `kubectl create secret generic` commands of the script."""
    secrets = {}
    for command in script.replace("\\\n", " ").splitlines():
        if found := re.search(r"create secret generic (\S+)", command):
            secrets[found.group(1)] = set(re.findall(r"--from-literal=([-._a-zA-Z0-9]+)=", command))
    return secrets


def test_base_equals_the_chart_but_for_the_documented_differences(bin_dir: Path) -> None:
    rendered, kustomized = chart(bin_dir), base(bin_dir)
    expected = normalise(rendered)
    actual = {key(item): item for item in kustomized}

    assert sorted(actual) == sorted(expected)
    for name, item in expected.items():
        assert actual[name] == item, name
    assert len(rendered) - len(kustomized) == 2  # the two generated Secrets
    job = actual["batch/v1", "Job", "fedops-migrate"]
    assert "annotations" not in job["metadata"]


def test_generator_reproduces_the_base(bin_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "manifests" / "generate.py"), "--check", "--helm", str(bin_dir / "helm")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"run `python manifests/generate.py`:\n{result.stdout}{result.stderr}"
    assert result.stdout == ""


def test_readme_creates_exactly_the_secrets_the_chart_would_generate(bin_dir: Path) -> None:
    generated = {o["metadata"]["name"]: set(o["data"]) for o in chart(bin_dir) if o["kind"] == "Secret"}
    assert created_secrets(readme_install_script()) == generated

    referenced: set[tuple[str, str]] = set()
    for item in base(bin_dir):
        secret_key_refs(item, referenced)
    assert referenced == {(name, k) for name, keys in generated.items() for k in keys}


def test_base_objects_match_the_kubernetes_schemas(bin_dir: Path) -> None:
    for item in base(bin_dir):
        assert kubernetes_validate.validate(item, "1.37.0", strict=True) == "1.37"


def test_install_by_the_readme(kube_cluster: KubeCluster) -> None:
    # The README's commands as written (namespace fedops), with the pinned kubectl first on PATH.
    assert kube_cluster.kubectl("get", "namespace", "fedops", check=False).returncode != 0
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    env["PATH"] = f"{kube_cluster.bin_dir}:{env['PATH']}"
    try:
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_install_script()],
            cwd=REPO,
            env=env,
            check=True,
            timeout=120,
        )
        wait = ("wait", "-n", "fedops", "--timeout=120s")
        kube_cluster.kubectl(*wait, "--for=condition=Available", "deployment", "--all", timeout=130)
        kube_cluster.kubectl(*wait, "--for=condition=Complete", "job/fedops-migrate", timeout=130)
        kube_cluster.kubectl(
            "rollout", "status", "statefulset/fedops-postgresql", "-n", "fedops", timeout=130
        )

        data = json.loads(
            kube_cluster.kubectl("get", "secret", "fedops-postgresql", "-n", "fedops", "-o", "json").stdout
        )
        password, url = (base64.b64decode(data["data"][k]).decode() for k in ("password", "url"))
        assert url == f"postgresql://fedops:{password}@fedops-postgresql:5432/fedops"
        token = kube_cluster.kubectl(
            "get", "secret", "fedops-auth", "-n", "fedops", "-o", "jsonpath={.data.admin-token}"
        )
        assert len(base64.b64decode(token.stdout)) >= 16
    finally:
        kube_cluster.delete_namespace("fedops", wait=False)
