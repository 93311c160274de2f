"""fedops' alert rules (charts/fedops/files/rules/fedops-alerts.yml) under promtool.

`promtool check rules` validates the file; `promtool test rules` runs
tests/unit/promtool/fedops-alerts.test.yml, where each alert has a case that fires (with its
exact labels and rendered annotations) and one that stays quiet.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from fedops_services.metrics.catalog import CATALOG
from tests.support.promql import exported_series, metric_names
from tooling.observability.__main__ import RULES_FILE
from tooling.observability.rules import ALERTS, rule_groups

UNIT_TESTS = Path(__file__).parent / "promtool" / "fedops-alerts.test.yml"
EXPECTED = {"FedopsRoundStalled", "FedopsStragglerHoldingRound", "FedopsClientsBelowMinimum",
            "FedopsFLServerNotReady", "FedopsFLServerRestarting", "FedopsSpoolBacklogGrowing",
            "FedopsAPIHighErrorRate"}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, Any]]:
    (group,) = yaml.safe_load(RULES_FILE.read_text())["groups"]
    assert group["name"] == "fedops"
    return list(group["rules"])


def test_the_rule_file_is_the_generated_one() -> None:
    assert yaml.safe_load(RULES_FILE.read_text()) == rule_groups()
    assert {rule["alert"] for rule in rules()} == EXPECTED


def test_promtool_checks_the_rules() -> None:
    assert shutil.which("promtool") == "/usr/bin/promtool"
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED)} rules found" in result.stdout


def test_promtool_unit_tests_fire_and_stay_quiet() -> None:
    result = promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    # Per alert at least one case that fires and one that expects silence.
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    assert {check["alertname"] for check in checks if check["exp_alerts"]} == EXPECTED
    assert {check["alertname"] for check in checks if not check["exp_alerts"]} == EXPECTED


def test_promtool_unit_tests_notice_a_wrong_expectation(tmp_path: Path) -> None:
    broken = UNIT_TESTS.read_text().replace("exp_alerts: []}", "exp_alerts: [{exp_labels: {task: a}}]}", 1)
    copy = tmp_path / UNIT_TESTS.name
    copy.write_text(broken.replace("../../../charts", str(RULES_FILE.parents[3] / "charts")))
    result = promtool("test", "rules", str(copy))
    assert result.returncode == 1
    assert "FedopsRoundStalled" in result.stdout + result.stderr


def test_every_rule_is_documented_and_uses_catalogued_metrics() -> None:
    known = exported_series()
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names and names <= known, rule["expr"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        annotations = rule["annotations"]
        assert annotations.keys() == {"summary", "description", "runbook_url"}
        assert annotations["runbook_url"] == f"README.md#alert-{rule['alert'].lower()}"
        # Operator-only labels would silence the alert behind a plain `job` scrape.
        assert not re.search(r"\b(pod|namespace|instance)\b", rule["expr"]), rule["expr"]
    database = {f.name for f in CATALOG if f.source == "database"}
    for alert in ALERTS:  # database-derived series are reduced over replicas/targets first
        for name in metric_names(alert.expr) & database:
            assert re.search(rf"max by \(task\) \((?:\w+\()?{name}\b", alert.expr), (alert.name, name)
