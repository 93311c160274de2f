"""fedops' Prometheus alert rules: one source for the chart's PrometheusRule and compose.

`python -m tooling.observability` writes them as a plain rule file
(charts/fedops/files/rules/fedops-alerts.yml); the chart's PrometheusRule template puts the
same ``groups`` in its ``spec``. Each alert links to its runbook in the README.

Database-derived series are exported by every replica and scrape target, so each is reduced
with ``max by (task)`` before it is compared; nothing names ``pod`` or ``namespace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

# Where the runbooks live: the README's "Alerts" section, one anchor per alert.
RUNBOOK_BASE = "README.md"
GROUP = "fedops"

Severity = Literal["warning", "critical"]


def _task(metric: str) -> str:
    return f"max by (task) ({metric})"


RUNNING_STATUS = 'fedops_task_status{status="running"}'
RUNNING = f"{_task(RUNNING_STATUS)} == 1"
# Running at every evaluation of the last 15 minutes (the 0/1 series itself, not filtered:
# a filtered series has gaps, and a minimum over gaps says nothing), and already 15 minutes ago.
RUNNING_15M = (
    f"min_over_time({_task(RUNNING_STATUS)}[15m:1m]) == 1\n"
    f"    and on (task) {_task(RUNNING_STATUS + ' offset 15m')} == 1"
)
SINCE_LAST_ROUND = f"time() - {_task('fedops_round_last_completed_timestamp_seconds')}"
MEDIAN_ROUND = _task("fedops_round_duration_median_seconds")


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    duration: str  # the rule's `for`
    severity: Severity
    summary: str
    description: str

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{RUNBOOK_BASE}#alert-{self.name.lower()}",
            },
        }


ALERTS: tuple[Alert, ...] = (
    Alert(
        "FedopsRoundStalled",
        # Three times the task's own median round (at least 5 minutes, so that seconds-long
        # rounds do not page on a hiccup); before the first round, 15 minutes of running.
        f"(\n  ({SINCE_LAST_ROUND})\n    > on (task) clamp_min(3 * {MEDIAN_ROUND}, 300)\n"
        f"  or on (task)\n  ({RUNNING_15M}\n"
        f"    unless on (task) {_task('fedops_round_last_completed_timestamp_seconds')})\n)\n"
        f"and on (task) {RUNNING}",
        "1m",
        "warning",
        "Task {{ $labels.task }}: no round progress",
        "Task {{ $labels.task }} is running but no round has completed for more than three times "
        "its median round time (at least 5 minutes), or for 15 minutes since it started.",
    ),
    Alert(
        "FedopsStragglerHoldingRound",
        f"{_task('fedops_round_clients_reported')} > 0\n"
        f"and on (task) ({SINCE_LAST_ROUND})\n"
        f"  > on (task) clamp_min(1.5 * {MEDIAN_ROUND}, 120)\n"
        f"and on (task) {RUNNING}",
        "1m",
        "warning",
        "Task {{ $labels.task }}: a straggler holds the round",
        "{{ $value }} client(s) of task {{ $labels.task }} reported the round in progress, which has "
        "run longer than 1.5 times the task's median round: the FL server waits for the others.",
    ),
    Alert(
        "FedopsClientsBelowMinimum",
        f"{_task('fedops_clients_online')}\n  < on (task) {_task('fedops_task_min_clients')}\n"
        f"and on (task) {RUNNING}",
        "5m",
        "warning",
        "Task {{ $labels.task }}: fewer clients online than it needs",
        "Only {{ $value }} client(s) of task {{ $labels.task }} are online, fewer than the minimum "
        "a round needs: rounds cannot start.",
    ),
    Alert(
        "FedopsFLServerNotReady",
        f"{_task('fedops_flserver_ready')} == 0\nand on (task) {RUNNING}",
        "2m",
        "critical",
        "Task {{ $labels.task }}: FL server not ready",
        "The FL server of running task {{ $labels.task }} has not been ready for 2 minutes.",
    ),
    Alert(
        "FedopsFLServerRestarting",
        f"{_task('increase(fedops_flserver_restarts_total[15m])')} >= 2",
        "0s",
        "warning",
        "Task {{ $labels.task }}: FL server restarting",
        "The FL server of task {{ $labels.task }} restarted {{ $value | humanize }} times "
        "in the last 15 minutes.",
    ),
    Alert(
        "FedopsSpoolBacklogGrowing",
        f"{_task('fedops_client_spool_backlog')} > 0\n"
        f"and on (task) {_task('deriv(fedops_client_spool_backlog[10m])')} > 0",
        "10m",
        "warning",
        "Task {{ $labels.task }}: client spool backlog growing",
        "{{ $value }} reports and images wait in the spools of task {{ $labels.task }}'s clients, "
        "and the backlog has grown for 10 minutes: clients cannot deliver to monitoring.",
    ),
    Alert(
        "FedopsAPIHighErrorRate",
        # No traffic gives 0/0 = NaN, which compares false: quiet.
        'sum by (job) (rate(http_requests_total{status="5xx"}[5m]))\n'
        "  / sum by (job) (rate(http_requests_total[5m]))\n> 0.05",
        "5m",
        "critical",
        "fedops API ({{ $labels.job }}): over 5% of requests fail",
        "{{ $value | humanizePercentage }} of the requests to {{ $labels.job }} ended in a 5xx "
        "over the last 5 minutes.",
    ),
)


def rule_groups() -> dict[str, Any]:
    """The plain rule file's content: also the PrometheusRule's ``spec``."""
    return {"groups": [{"name": GROUP, "rules": [alert.rule() for alert in ALERTS]}]}


class _BlockStrings(yaml.SafeDumper):
    """Writes multi-line strings (the expressions) as readable literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStrings.add_representer(str, _represent_str)


def rules_yaml() -> str:
    header = (
        "# Generated by `python -m tooling.observability` from tooling/observability/rules.py; do not edit.\n"
    )
    body = yaml.dump(rule_groups(), Dumper=_BlockStrings, sort_keys=False, width=200, allow_unicode=True)
    return header + body
