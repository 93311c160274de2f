"""A real Prometheus scrapes a real local federation (2 clients, 2 rounds, XAI, per-client series).

Afterwards, checked against the metric catalog and the shipped files (nothing copied here):
every catalogued family has data for the task, with exactly its catalogued labels; nothing
outside the catalog is exported under fedops' names; every query of every panel and every
template variable of every dashboard under charts/fedops/files/dashboards returns data in
this Prometheus, the way Grafana would send it; ``promtool check metrics`` passes on the
services' /metrics; the alert rules load into Prometheus and evaluate without error.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedops_services.metrics.catalog import CATALOG, CLIENT_PHASES, SERVER_PHASES, Family
from tests.e2e.conftest import mnist_task, run_task, start_federation
from tests.support import grafana
from tests.support.processes import wait_until
from tests.support.prometheus import RunningPrometheus, check_metrics
from tooling.local_federation import LocalFederation, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "charts" / "fedops" / "files" / "dashboards"
ALERT_RULES = REPO / "charts" / "fedops" / "files" / "rules" / "fedops-alerts.yml"
TASK = "e2e-prometheus"
JOB = "fedops"
# Grafana's $__rate_interval is max($__interval + scrape interval, 4 x scrape interval);
# with 1 s scrapes a few more seconds than that keeps rate() over two samples at least.
RATE_INTERVAL = "15s"
INTERVAL = "5s"
LABELS_PROMETHEUS_ADDS = {"__name__", "job", "instance", "le"}
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


@dataclass
class Observed:
    federation: LocalFederation
    prometheus: RunningPrometheus
    started: float  # Unix time Prometheus began scraping: the window dashboards look at

    def window(self) -> int:
        return math.ceil(time.time() - self.started) + 5


def _scraped_after(prometheus: RunningPrometheus, moment: float) -> bool:
    latest = prometheus.query(f'max(timestamp(up{{job="{JOB}"}}))')
    return bool(latest) and float(latest[0]["value"][1]) > moment


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    federation = start_federation(tmp_path_factory.mktemp("prometheus"), FEDOPS_METRICS_PER_CLIENT="true")
    # The rules are loaded when they exist, so the other checks still run without them.
    rule_files = [ALERT_RULES] if ALERT_RULES.is_file() else []
    prometheus = RunningPrometheus([federation.url.removeprefix("http://")], job=JOB, rule_files=rule_files)
    try:
        prometheus.start()
        prometheus.wait_until_up()
        started = time.time()
        task, final = run_task(federation, mnist_task(TASK, rounds=2))
        assert final.status == "finished", final.status_reason
        # Reports and images arrive in the background: wait for all of them, then for scrapes
        # that saw them (two, so rate() over the last counter values has two points).
        wait_for(lambda: all(r.client_reports == 2 for r in federation.api.monitoring.rounds(task.id).data)
                 or None, 60, "client reports")  # fmt: skip
        wait_for(lambda: federation.api.monitoring.artifacts(task.id).count == 40 or None, 60, "40 images")
        delivered = time.time()
        wait_until(
            lambda: _scraped_after(prometheus, delivered + 2), timeout=30, what="scrapes after delivery"
        )
        yield Observed(federation, prometheus, started)
    finally:
        prometheus.stop()
        federation.stop()


# --- (a) the catalog ----------------------------------------------------------------------------


def _selector(family: Family) -> str:
    matchers = [f'task="{TASK}"'] if "task" in family.labels else []
    if family.per_client:
        matchers.append('client!=""')
    return "{" + ", ".join(matchers) + "}"


def _series_names(family: Family) -> list[str]:
    if family.type == "histogram":
        return [family.name + suffix for suffix in HISTOGRAM_SERIES]
    return [family.name]


def test_every_catalogued_family_has_data_for_the_task(observed: Observed) -> None:
    missing, wrong_labels = [], []
    for family in CATALOG:
        for name in _series_names(family):
            samples = observed.prometheus.query(
                f"last_over_time({name}{_selector(family)}[{observed.window()}s])"
            )
            if not samples:
                missing.append(name)
                continue
            for sample in samples:
                labels = set(sample["metric"]) - LABELS_PROMETHEUS_ADDS
                if labels != set(family.labels):
                    wrong_labels.append(f"{name}: {sorted(labels)} != catalogued {sorted(family.labels)}")
                    break

    assert not missing, f"catalogued families without data for task {TASK}: {missing}"
    assert not wrong_labels, "\n".join(wrong_labels)


def _values(observed: Observed, family: Family, label: str) -> set[str]:
    name = _series_names(family)[0]
    samples = observed.prometheus.query(f"last_over_time({name}{_selector(family)}[{observed.window()}s])")
    return {sample["metric"].get(label, "") for sample in samples}


def test_every_phase_and_both_clients_have_series(observed: Observed) -> None:
    """Both clients reported every phase (XAI and upload included); the server every phase."""
    for family in CATALOG:
        if "phase" in family.labels:
            # fedops_round_* are the FL server's phases; the others the clients'.
            phases = SERVER_PHASES if family.name.startswith("fedops_round_") else CLIENT_PHASES
            assert set(phases) <= _values(observed, family, "phase"), family.name
        if "client" in family.labels:
            assert len(_values(observed, family, "client")) == 2, family.name


def test_nothing_outside_the_catalog_is_exported_and_types_match(observed: Observed) -> None:
    catalogued = {family.name: family for family in CATALOG}
    stored = {n for n in observed.prometheus.series_names() if n.startswith(("fedops_", "http_"))}

    def family_of(name: str) -> str:
        for suffix in HISTOGRAM_SERIES:
            base = name.removesuffix(suffix)
            if base != name and base in catalogued and catalogued[base].type == "histogram":
                return base
        return name

    assert {family_of(name) for name in stored} - set(catalogued) == set()
    # The TYPE line names a counter with or without _total, depending on the exposition format.
    types = {name: entries[0]["type"] for name, entries in observed.prometheus.metadata().items()}
    exported = {f.name: types.get(f.name, types.get(f.name.removesuffix("_total"))) for f in CATALOG}
    assert {name: kind for name, kind in exported.items() if kind not in (catalogued[name].type, None)} == {}


# --- (b) the dashboards -------------------------------------------------------------------------


def _label_values(prometheus: RunningPrometheus) -> grafana.LabelValues:
    def answer(selector: str | None, label: str) -> list[str]:
        return prometheus.label_values(label, match=[selector] if selector else [])

    return answer


def _returns_data(observed: Observed, query: grafana.PanelQuery, expr: str) -> str | None:
    """None when the query returns data; otherwise why not."""
    try:
        if query.instant:
            result = observed.prometheus.query(expr)
        else:
            result = observed.prometheus.query_range(expr, start=observed.started, end=time.time(), step="2s")
    except AssertionError as error:
        return str(error)
    if not any(series.get("values", [series.get("value")]) for series in result):
        return "no data"
    return None


def _dashboards() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def test_every_dashboard_panel_and_variable_returns_data(observed: Observed) -> None:
    assert _dashboards(), f"no dashboard JSON files under {DASHBOARDS}"
    failures: list[str] = []
    queries = 0
    for path in _dashboards():
        dashboard: dict[str, Any] = json.loads(path.read_text())
        builtins = grafana.builtin_variables(range_seconds=observed.window(), rate_interval=RATE_INTERVAL,
                                             interval=INTERVAL)  # fmt: skip
        try:
            values = grafana.resolve_variables(
                dashboard, _label_values(observed.prometheus), preferred={"task": TASK}, builtins=builtins
            )
        except AssertionError as error:
            failures.append(f"{path.name}: {error}")
            continue
        for query in grafana.panel_queries(dashboard):
            queries += 1
            expr = grafana.substitute(query.expr, values)
            why = f"undefined variables {grafana.unresolved(expr)}" if grafana.unresolved(expr) else None
            why = why or _returns_data(observed, query, expr)
            if why is not None:
                failures.append(f"{path.name} / {query.panel} / {query.ref_id}: {why}\n    {expr}")

    assert not failures, f"{len(failures)} of {queries} queries fail:\n" + "\n".join(failures)
    assert queries > 0


# --- (c) promtool -------------------------------------------------------------------------------


def test_promtool_check_metrics_passes_on_every_metrics_endpoint(observed: Observed) -> None:
    for url in [observed.federation.url]:  # `fedops up` serves every component from one process
        exposition = httpx.get(f"{url}/metrics", timeout=30)
        exposition.raise_for_status()
        checked = check_metrics(exposition.content)

        assert checked.returncode == 0, f"{url}/metrics: {checked.stdout}{checked.stderr}"
        assert TASK.encode() in exposition.content


# --- (d) the alert rules ------------------------------------------------------------------------

_METRIC_NAME = re.compile(r"\b(?:fedops|http)_[a-z0-9_]+\b")


def _evaluated(prometheus: RunningPrometheus) -> bool:
    rules = [rule for group in prometheus.rule_groups() for rule in group["rules"]]
    return bool(rules) and all(rule["health"] != "unknown" for rule in rules)


def test_the_alert_rules_load_and_evaluate_without_error(observed: Observed) -> None:
    assert ALERT_RULES.is_file(), f"{ALERT_RULES} is missing"
    wait_until(lambda: _evaluated(observed.prometheus), timeout=30, what="every rule evaluated once")
    rules = [rule for group in observed.prometheus.rule_groups() for rule in group["rules"]]
    stored = observed.prometheus.series_names()

    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert broken == {}
    assert any(rule["type"] == "alerting" for rule in rules)
    unknown = {rule["name"]: sorted(set(_METRIC_NAME.findall(rule["query"])) - stored) for rule in rules}
    assert {name: names for name, names in unknown.items() if names} == {}
