"""tests/support/grafana.py reads dashboards the way Grafana would (the e2e test relies on it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import grafana

BUILTINS = grafana.builtin_variables(range_seconds=300, rate_interval="15s", interval="5s")

DASHBOARD: dict[str, Any] = {
    "title": "t",
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
        {"name": "task", "type": "query", "query": {"query": "label_values(fedops_round_current, task)"}},
        {"name": "client", "type": "query",
         "query": 'label_values(fedops_client_last_heartbeat_timestamp_seconds{task="$task"}, client)'},
        {"name": "namespace", "type": "query", "query": "label_values(fedops_tasks, namespace)",
         "includeAll": True, "allValue": ".*"},
        {"name": "quantile", "type": "custom", "query": "0.5,0.9"},
    ]},
    "panels": [
        {"type": "row", "title": "collapsed", "panels": [
            {"title": "inner", "targets": [{"refId": "A", "expr": 'fedops_model_loss{task="$task"}'}]},
        ]},
        {"title": "stat", "targets": [{"refId": "B", "expr": "x[$__rate_interval]", "instant": True},
                                      {"refId": "C"}]},
    ],
}  # fmt: skip


def _answers(selector: str | None, label: str) -> list[str]:
    known = {
        ("fedops_round_current", "task"): ["other", "mine"],
        ('fedops_client_last_heartbeat_timestamp_seconds{task="mine"}', "client"): ["edge-0", "edge-1"],
    }
    return known.get((selector or "", label), [])


def test_panels_in_collapsed_rows_are_found_and_empty_targets_skipped() -> None:
    queries = list(grafana.panel_queries(DASHBOARD))

    assert [(q.panel, q.ref_id, q.instant) for q in queries] == [("inner", "A", False), ("stat", "B", True)]


def test_variables_resolve_in_order_with_the_preferred_task_and_all_values() -> None:
    values = grafana.resolve_variables(DASHBOARD, _answers, preferred={"task": "mine"}, builtins=BUILTINS)

    assert values["task"] == "mine"
    assert values["client"] == "edge-0"  # its query needed $task filled in first
    assert values["namespace"] == ".*"  # no values, but an "All" value
    assert values["quantile"] == "0.5"


def test_a_preferred_value_that_is_not_listed_fails() -> None:
    with pytest.raises(AssertionError, match="not 'absent'"):
        grafana.resolve_variables(DASHBOARD, _answers, preferred={"task": "absent"}, builtins=BUILTINS)


def test_every_reference_form_is_substituted_and_leftovers_are_reported() -> None:
    values = {"task": "a", "task_name": "b", **BUILTINS}
    text = 'f{task="$task", n="${task_name}", r=~"${task:regex}", o="[[task]]"}[$__rate_interval] $__range_s'

    assert grafana.substitute(text, values) == 'f{task="a", n="b", r=~"a", o="a"}[15s] 300'
    assert grafana.unresolved(grafana.substitute('f{x="$undefined"}', values)) == ["$undefined"]


def test_label_values_forms() -> None:
    assert grafana.parse_label_values('label_values(up{job="x"}, instance)') == ('up{job="x"}', "instance")
    assert grafana.parse_label_values("label_values(task)") == (None, "task")
    assert grafana.parse_label_values("query_result(up)") is None
