"""Files of the Helm chart that need no helm: values and schema, helm test script.

Rendering, linting and installing the chart are in tests/kubernetes/test_chart.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from tests.support.stack import FedopsStack

CHART = Path(__file__).resolve().parents[2] / "charts" / "fedops"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


def _merged(defaults: Any, override: Any) -> Any:
    """Helm's merge of a values file over the chart's values.yaml."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        return {key: _merged(defaults.get(key), override[key]) if key in override else defaults[key]
                for key in defaults.keys() | override.keys()}  # fmt: skip
    return override


@pytest.mark.parametrize("scenario", ["defaults", *(p.name for p in sorted((CHART / "ci").glob("*.yaml")))])
def test_values_files_satisfy_the_schema(scenario: str) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if scenario != "defaults":
        values = _merged(values, yaml.safe_load((CHART / "ci" / scenario).read_text()))
    jsonschema.validate(values, _schema())


def test_schema_closes_every_object_with_properties() -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, path
            for key, value in node.items():
                if key != "allOf":  # conditions on an object's values, not objects of their own
                    walk(value, f"{path}/{key}")

    walk(_schema(), "#")
    with pytest.raises(jsonschema.ValidationError, match="'replicaCount' was unexpected"):
        jsonschema.validate(
            {**yaml.safe_load((CHART / "values.yaml").read_text()), "replicaCount": 2}, _schema()
        )


def test_every_value_is_commented() -> None:
    # A key needs a comment line right above it, unless a commented block above contains it
    # (e.g. the keys of a documented default securityContext).
    lines = (CHART / "values.yaml").read_text().splitlines()
    open_blocks: list[tuple[int, bool]] = []  # (indentation, commented) of enclosing keys
    for number, line in enumerate(lines):
        key = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):( .*)?$", line)
        if not key:
            continue
        indent, commented = len(key.group(1)), lines[number - 1].lstrip().startswith("#")
        open_blocks = [block for block in open_blocks if block[0] < indent]
        if key.group(3) and not commented:
            assert any(c for _, c in open_blocks), f"values.yaml:{number + 1}: {line.strip()} has no comment"
        open_blocks.append((indent, commented))


def test_monitoring_extras_are_off_by_default_and_take_extra_labels() -> None:
    # The dashboards and rules themselves: tests/unit/test_dashboards.py, test_alert_rules.py.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["dashboard"]["enabled"] is values["prometheusRule"]["enabled"] is False
    values["prometheusRule"] = {"enabled": True, "labels": {"release": "prometheus"}}
    jsonschema.validate(values, _schema())
    values["prometheusRule"]["groups"] = []  # the groups come from the chart's rule file only
    with pytest.raises(jsonschema.ValidationError, match="'groups' was unexpected"):
        jsonschema.validate(values, _schema())


@pytest.mark.slow
def test_the_helm_test_script_against_real_services(tmp_path: Path) -> None:
    # On the kwok test cluster the helm test Job is only marked Succeeded; its script runs here.
    token, database = "chart-check-token-0123456789", f"sqlite:///{tmp_path / 'fedops.db'}"
    stack = FedopsStack(tmp_path / "data", env={"FEDOPS_ADMIN_TOKEN": token, "FEDOPS_DATABASE_URL": database})
    stack.start()

    def check(admin_token: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "FEDOPS_REGISTRY_URL": stack.url, "FEDOPS_MONITORING_URL": stack.url}
        env |= {"FEDOPS_ADMIN_TOKEN": admin_token, "FEDOPS_CHECK_SECONDS": "0"}
        script = [sys.executable, str(CHART / "files" / "check.py")]
        return subprocess.run(script, env=env, capture_output=True, text=True, timeout=60)

    try:
        passed, refused = check(token), check("not-the-admin-token-000")
    finally:
        stack.stop()
    assert passed.returncode == 0, passed.stdout
    assert f"{stack.url}/readyz 200" in passed.stdout
    assert "all checks passed" in passed.stdout
    assert refused.returncode == 1
    assert f"{stack.url}/api/v1/whoami 401" in refused.stdout


@pytest.mark.parametrize(
    ("provisioner", "missing"),
    [
        ({"serviceType": "ClusterIP"}, "fleetAddress"),  # an in-cluster name: edge machines cannot resolve it
        ({"serviceType": "ClusterIP", "fleetAddress": ""}, "fleetAddress"),
        ({"serviceType": "NodePort", "advertiseHost": ""}, "advertiseHost"),  # which host to connect to?
    ],
)
def test_the_schema_requires_an_address_edge_machines_can_reach(
    provisioner: dict[str, str], missing: str
) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values["provisioner"] = {
        key: value for key, value in values["provisioner"].items() if key != "fleetAddress"
    } | provisioner

    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(values, _schema())
    assert missing in [*refused.value.absolute_path, refused.value.message.split("'")[1]]
    assert "allOf" in refused.value.absolute_schema_path  # the exposure rule, not another one


def test_edge_reachable_exposures_satisfy_the_schema() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["provisioner"]["serviceType"] == "LoadBalancer"  # an external address per server
    for provisioner in (
        {"serviceType": "NodePort", "advertiseHost": "edge.example.org"},
        {"serviceType": "ClusterIP", "fleetAddress": "{task_name}.fl.example.org:443"},
        {"serviceType": "LoadBalancer"},
    ):
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        values["provisioner"] |= provisioner
        jsonschema.validate(values, _schema())
