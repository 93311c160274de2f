# ruff: noqa: E501  (one panel per line reads better than a wrapped builder chain)
"""The three Grafana dashboards fedops ships: installation overview, task view, client view.

Built with grafana-foundation-sdk (classic dashboard JSON, schemaVersion 41) from the metric
names of fedops_services.metrics.catalog; `python -m tooling.observability` writes them to
charts/fedops/files/dashboards/, which the chart's ConfigMap and docker-compose both read.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from tooling.observability.panels import (
    TASK,
    datasource_variable,
    histogram_mean,
    histogram_quantile,
    per_task,
    query_variable,
    stat,
    task_rate,
    timeseries,
)

# Keys the SDK writes on every variable that Grafana's current VariableModel lacks
# (@grafana/schema 12.4+ rejects them): they belong to interval variables only.
_INTERVAL_ONLY_KEYS = ("auto", "auto_count", "auto_min")
RATE = "[$__rate_interval]"


def _dashboard(title: str, uid: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["fedops"])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .with_variable(datasource_variable())
    )


def overview() -> Dashboard:
    http_rate = f"rate(http_requests_total{RATE})"
    latency = "sum by (le) (rate(http_request_duration_seconds_bucket" + RATE + "))"
    return (
        _dashboard(
            "fedops / installation overview",
            "fedops-overview",
            "Tasks, FL servers, clients and the health of the fedops APIs.",
        )
        .with_row(Row("Tasks, FL servers and clients"))
        .with_panel(stat("Tasks by status", "Tasks per lifecycle status.", [("max by (status) (fedops_tasks)", "{{status}}")], width=8))
        .with_panel(stat("FL servers ready", "Tasks whose FL server the registry last saw ready.", [("sum(max by (task) (fedops_flserver_ready))", "ready")]))
        .with_panel(stat("Clients online", "Clients with a recent heartbeat, over all tasks.", [("sum(max by (task) (fedops_clients_online))", "online")]))
        .with_panel(stat("Clients training", "Online clients that say they are training.", [("sum(max by (task) (fedops_clients_training))", "training")]))
        .with_panel(stat("Clients enrolled", "Clients enrolled, over all tasks.", [("sum(max by (task) (fedops_clients_enrolled))", "enrolled")]))
        .with_panel(timeseries("Tasks by status", "Tasks per lifecycle status over time.", [("max by (status) (fedops_tasks)", "{{status}}")], width=8))
        .with_panel(timeseries("Clients online per task", "Clients with a recent heartbeat, per task.", [("max by (task) (fedops_clients_online)", "{{task}}")], width=8))
        .with_panel(timeseries("Rounds completed per task", "Rounds the FL servers completed (per minute).", [("60 * max by (task) (rate(fedops_rounds_completed_total" + RATE + "))", "{{task}}")], unit="short", width=8))
        .with_row(Row("APIs"))
        .with_panel(timeseries("Request rate", "HTTP requests per second by scrape job and status class.", [(f"sum by (job, status) ({http_rate})", "{{job}} {{status}}")], unit="reqps", width=8))
        .with_panel(timeseries("Latency", "Request latency quantiles over every route.", [(f"histogram_quantile({q}, {latency})", f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)], unit="s", width=8))
        .with_panel(timeseries("5xx ratio", "Share of requests that ended in a 5xx (0 when none did).", [(f'(sum(rate(http_requests_total{{status="5xx"}}{RATE})) or vector(0)) / sum({http_rate})', "5xx ratio")], unit="percentunit", width=8))
        .with_panel(timeseries("Slowest routes (p90)", "p90 latency per route template.", [("topk(10, histogram_quantile(0.9, sum by (handler, le) (rate(http_request_duration_seconds_bucket" + RATE + "))))", "{{handler}}")], unit="s"))
        .with_panel(timeseries("Reports ingested", "Reports stored per second by kind (resent duplicates not counted).", [("sum by (kind) (rate(fedops_reports_ingested_total" + RATE + "))", "{{kind}}")], unit="ops"))
    )  # fmt: skip


def task() -> Dashboard:
    server_phase, client_phase = "fedops_round_phase_duration_seconds", "fedops_client_phase_duration_seconds"
    return (
        _dashboard(
            "fedops / task",
            "fedops-task",
            "One task: model quality, rounds and their phases, clients, stragglers, XAI cost, FL server.",
        )
        .with_variable(query_variable("task", "Task", "label_values(fedops_task_status, task)"))
        .with_row(Row("Progress"))
        .with_panel(stat("Current round", "The round in progress (the last one when the task is done).", [(per_task("fedops_round_current"), "round")]))
        .with_panel(stat("Rounds planned", "Rounds the task's spec asks for.", [(per_task("fedops_task_rounds"), "rounds")]))
        .with_panel(stat("Accuracy", "Aggregated accuracy of the last completed round.", [(per_task("fedops_model_accuracy"), "accuracy")], unit="percentunit"))
        .with_panel(stat("Loss", "Aggregated loss of the last completed round.", [(per_task("fedops_model_loss"), "loss")]))
        .with_panel(stat("Since last round", "Time since the last round completed.", [(f"time() - {per_task('fedops_round_last_completed_timestamp_seconds')}", "age")], unit="s"))
        .with_panel(stat("FL server ready", "1 when the registry last saw the task's FL server ready.", [(per_task("fedops_flserver_ready"), "ready")]))
        .with_row(Row("Model quality"))
        .with_panel(timeseries("Accuracy and loss", "Aggregated accuracy and loss; each step is a completed round.", [(per_task("fedops_model_accuracy"), "accuracy"), (per_task("fedops_model_loss"), "loss")], width=8))
        .with_panel(timeseries("Round", "Current round against the rounds planned.", [(per_task("fedops_round_current"), "current"), (per_task("fedops_task_rounds"), "planned")], width=8))
        .with_panel(timeseries("Task metrics", "The task's own numeric metrics of the last completed round.", [(per_task("fedops_model_metric", "metric"), "{{metric}}")], width=8))
        .with_row(Row("Rounds"))
        .with_panel(timeseries("Round duration", "Median (exact) and p90 wall time of the task's rounds.", [(per_task("fedops_round_duration_median_seconds"), "median"), (histogram_quantile(0.9, "fedops_round_duration_seconds"), "p90")], unit="s", width=8))
        .with_panel(timeseries("Server phases (mean per round)", "Mean time the FL server spends per phase of a round.", [(histogram_mean(server_phase, "phase"), "{{phase}}")], unit="s", width=8, stacked_bars=True))
        .with_panel(timeseries("Server phases (p90)", "p90 time per phase of a round.", [(histogram_quantile(0.9, server_phase, "phase"), "{{phase}}")], unit="s", width=8))
        .with_panel(timeseries("Participants and failures", "Clients aggregated and failed in the last round; clients that reported the round in progress.", [(per_task("fedops_round_participants"), "participants"), (per_task("fedops_round_failures"), "failures"), (per_task("fedops_round_clients_reported"), "reported (round in progress)")], width=8))
        .with_panel(timeseries("Straggler ratio", "Slowest client's round time over the median client's, last round (1 = no straggler).", [(per_task("fedops_round_straggler_ratio"), "slowest / median")], width=8))
        .with_panel(timeseries("Client failures", "Client failures over all rounds.", [(per_task("fedops_round_client_failures_total"), "failures")], width=8))
        .with_row(Row("Clients"))
        .with_panel(timeseries("Clients online and training", "Against the minimum the task needs before a round starts.", [(per_task("fedops_clients_online"), "online"), (per_task("fedops_clients_training"), "training"), (per_task("fedops_task_min_clients"), "minimum"), (per_task("fedops_clients_enrolled"), "enrolled")], width=8))
        .with_panel(timeseries("Client phases (mean per round)", "Mean time a client spends per phase of a round.", [(histogram_mean(client_phase, "phase"), "{{phase}}")], unit="s", width=8, stacked_bars=True))
        .with_panel(timeseries("Client phases (p90)", "p90 time per client phase.", [(histogram_quantile(0.9, client_phase, "phase"), "{{phase}}")], unit="s", width=8))
        .with_panel(timeseries("Spool backlog", "Reports and images waiting in the clients' spools (last heartbeats).", [(per_task("fedops_client_spool_backlog"), "backlog")], width=8))
        .with_panel(timeseries("Examples trained", "Training examples per second, over all clients.", [(task_rate("fedops_client_examples_trained_total"), "examples/s")], unit="short", width=8))
        .with_row(Row("Explanations (XAI)"))
        .with_panel(timeseries("Explanations", "Explanation images generated by clients and stored by monitoring.", [(per_task("fedops_xai_explanations_generated_total"), "generated"), (per_task("fedops_xai_explanations_uploaded_total"), "uploaded")], width=8))
        .with_panel(timeseries("Explanation bytes", "Bytes of stored explanation images: total and per second.", [(per_task("fedops_xai_uploaded_bytes_total"), "stored"), (task_rate("fedops_xai_uploaded_bytes_total"), "per second")], unit="bytes", width=8))
        .with_panel(timeseries("Faithfulness", "Confidence kept by the stored explanations (0-1: the share of the class's confidence the map's regions keep alone; 1 is best): median and p10.", [(histogram_quantile(0.5, "fedops_xai_faithfulness"), "median"), (histogram_quantile(0.1, "fedops_xai_faithfulness"), "p10")], width=8))
        .with_panel(timeseries("Time spent on XAI", "Mean client time per round in the xai and upload phases.", [(histogram_mean(client_phase, "phase").replace(TASK, f'{TASK}, phase=~"xai|upload"'), "{{phase}}")], unit="s", width=8))
        .with_row(Row("FL server"))
        .with_panel(timeseries("FL server", "Ready (1/0) and restarts the registry observed.", [(per_task("fedops_flserver_ready"), "ready"), (per_task("fedops_flserver_restarts_total"), "restarts")]))
        .with_panel(timeseries("Since the run controller was last seen", "Seconds since the FL server's run controller last reached the registry.", [(f"time() - {per_task('fedops_flserver_last_seen_timestamp_seconds')}", "age")], unit="s"))
    )  # fmt: skip


def client() -> Dashboard:
    selected = f'{TASK}, client=~"$client"'
    return (
        _dashboard(
            "fedops / client",
            "fedops-client",
            "Per-client series (only with FEDOPS_METRICS_PER_CLIENT on, capped per task).",
        )
        .with_variable(query_variable("task", "Task", "label_values(fedops_client_last_heartbeat_timestamp_seconds, task)"))
        .with_variable(query_variable("client", "Client", f"label_values(fedops_client_last_heartbeat_timestamp_seconds{{{TASK}}}, client)", multi=True))
        .with_row(Row("Clients"))
        .with_panel(timeseries("Since last heartbeat", "Seconds since each client's last heartbeat.", [(f"time() - max by (client) (fedops_client_last_heartbeat_timestamp_seconds{{{selected}}})", "{{client}}")], unit="s"))
        .with_panel(timeseries("Last round, by phase", "Each client's time per phase in its last reported round.", [(f"max by (client, phase) (fedops_client_round_duration_seconds{{{selected}}})", "{{client}} {{phase}}")], unit="s", stacked_bars=True))
        .with_panel(timeseries("Training time", "Each client's train phase in its last reported round.", [(f'max by (client) (fedops_client_round_duration_seconds{{{selected}, phase="train"}})', "{{client}}")], unit="s"))
        .with_panel(timeseries("Round total", "Each client's total time in its last reported round.", [(f"sum by (client) (max by (client, phase) (fedops_client_round_duration_seconds{{{selected}}}))", "{{client}}")], unit="s"))
    )  # fmt: skip


DASHBOARDS = {"overview": overview, "task": task, "client": client}


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's classic JSON model, minus keys the current schema lacks, plus panel ids."""
    document: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(dashboard.build()))
    # Stable ids (the SDK leaves them out and Grafana would number them on load): links to a
    # single panel (?viewPanel=) keep working across regenerations.
    for number, panel in enumerate(document["panels"], start=1):
        panel["id"] = number
    for variable in document["templating"]["list"]:
        if variable["type"] != "interval":
            for key in _INTERVAL_ONLY_KEYS:
                variable.pop(key, None)
    return document


def panel_queries(document: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard's panels, rows included, in order."""
    panels: list[dict[str, Any]] = []
    for panel in document["panels"]:
        panels += [panel, *panel.get("panels", [])]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]
