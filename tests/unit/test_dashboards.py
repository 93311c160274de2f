"""The generated Grafana dashboards (charts/fedops/files/dashboards), checked without Grafana.

Grafana cannot run here, so each dashboard is checked piece by piece: it is what the code
generates; it round-trips through grafana-foundation-sdk's model; its schemaVersion is one
current Grafana reads; panel ids are unique and panels do not overlap; every query parses as
PromQL (promtool) and names only catalogued metrics; nothing relies on labels only the
Prometheus Operator adds. test_dashboards_schema.py type-checks the JSON against Grafana's
own TypeScript types; tests/e2e runs every query against a real Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from fedops_services.metrics.catalog import CATALOG
from tests.support.promql import exported_series, metric_names
from tooling.observability.__main__ import DASHBOARD_DIR, REPO, check, generated
from tooling.observability.dashboards import DASHBOARDS, panel_queries

NAMES = sorted(DASHBOARDS)
# Grafana's variables, replaced by values that keep the expression valid PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$task": "t", "$client": "c"}


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DASHBOARD_DIR / f"{name}.json").read_text())
    return document


def substituted(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, expr
    return expr


def test_the_committed_files_are_what_the_code_generates() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tooling.observability", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.stem for path in DASHBOARD_DIR.glob("*.json")) == NAMES


def test_the_check_names_a_file_that_differs() -> None:
    files = generated()
    path = DASHBOARD_DIR / "task.json"
    files[path] = files[path].replace("fedops / task", "hand-edited")
    (problem,) = check(files)
    assert problem.startswith("charts/fedops/files/dashboards/task.json differs")
    assert '+  "title": "hand-edited"' in problem


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_the_sdk_model(name: str) -> None:
    document = load(name)
    model = DashboardModel.from_json(document)
    again = json.loads(JSONEncoder(sort_keys=True).encode(model))
    for variable in again["templating"]["list"]:  # the keys the generator strips on purpose
        for key in ("auto", "auto_count", "auto_min"):
            variable.pop(key, None)
    assert again == document
    assert document["schemaVersion"] in (41, 42)
    assert document["uid"] == f"fedops-{name}"


@pytest.mark.parametrize("name", NAMES)
def test_panels_have_unique_ids_and_do_not_overlap(name: str) -> None:
    panels = load(name)["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                 for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("name", NAMES)
def test_queries_use_catalogued_metrics_and_portable_labels(name: str) -> None:
    document = load(name)
    queries = panel_queries(document)
    assert len(queries) >= 4
    known = exported_series()
    for expr in queries:
        assert metric_names(expr) <= known, expr
        assert metric_names(expr), expr
        # Operator-only labels would leave panels empty behind a plain `job` scrape.
        assert not re.search(r"\b(pod|namespace|instance|service|container)\b", expr), expr
        assert "rate(" not in expr or "[$__rate_interval]" in expr, expr
    for panel in document["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
    variables = document["templating"]["list"]
    assert variables[0] == {**variables[0], "name": "datasource", "type": "datasource", "query": "prometheus"}
    assert not any({"auto", "auto_count", "auto_min"} & variable.keys() for variable in variables)
    for variable in variables[1:]:
        assert variable["type"] == "query"
        metric, label = re.fullmatch(
            r"label_values\((\w+)(?:\{[^}]*\})?, (\w+)\)", variable["query"]
        ).groups()  # type: ignore[union-attr]
        (family,) = [family for family in CATALOG if family.name == metric]
        assert label in family.labels


def test_the_metric_name_extraction_sees_every_selector() -> None:
    expr = (
        'histogram_quantile(0.9, max by (phase, le) (fedops_x_bucket{task="$task"})) / on (task) up offset 5m'
    )
    assert metric_names(expr) == {"fedops_x_bucket", "up"}
    assert metric_names("time() - max by (task) (a_b[5m:1m]) > bool 3") == {"a_b"}


def test_the_dashboards_cover_every_task_family() -> None:
    # Each family with a task label appears in the task view, or in the client view.
    used = " ".join(
        [expr for name in NAMES for expr in panel_queries(load(name))]
        + [variable["query"] for name in NAMES for variable in load(name)["templating"]["list"]]
    )
    missing = [
        f.name
        for f in CATALOG
        if "task" in f.labels and not re.search(rf"\b{f.name}(_bucket|_sum|_count)?\b", used)
    ]
    assert missing == []


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    # promtool parses PromQL offline: each query becomes a recording rule of a rule file.
    rules = [
        {"record": f"dashboard:{name}:query{number}", "expr": substituted(expr)}
        for name in NAMES
        for number, expr in enumerate(panel_queries(load(name)))
    ]
    rule_file = tmp_path / "queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout

    unbalanced = {"groups": [{"name": "bad", "rules": [{"record": "r", "expr": "max by (task) (x"}]}]}
    rule_file.write_text(yaml.safe_dump(unbalanced))
    refused = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert refused.returncode == 1
