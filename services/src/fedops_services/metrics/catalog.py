"""Every metric family fedops exports: name, type, labels, meaning and where it comes from.

This list is the contract: the collectors emit exactly these families, the dashboards and
alert rules query only these, the README's metric table is written from it, and the tests
check all three against it. Names follow Prometheus' conventions (base units, ``_total``
for counters, ``_seconds``/``_bytes`` suffixes, ``_timestamp_seconds`` for points in time).

Label ``task`` is the task's name (unique, at most 64 characters; tasks are few). Series of
a deleted task disappear. Per-client series exist only with ``FEDOPS_METRICS_PER_CLIENT``
on, and at most ``FEDOPS_METRICS_CLIENT_SERIES_LIMIT`` clients per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CATALOG", "CLIENT_PHASES", "SERVER_PHASES", "Family", "catalog_markdown", "family"]

MetricType = Literal["counter", "gauge", "histogram"]
Source = Literal["database", "process", "http"]

SERVER_PHASES = ("configure", "wait", "aggregate", "evaluate")
CLIENT_PHASES = ("wait", "load", "train", "evaluate", "xai", "upload")


@dataclass(frozen=True)
class Family:
    name: str  # as exposed; counters include their _total suffix
    type: MetricType
    labels: tuple[str, ...]
    help: str
    source: Source
    # Series per task (or in all, for families without a task label), for the README.
    cardinality: str
    per_client: bool = False  # only with FEDOPS_METRICS_PER_CLIENT


CATALOG: tuple[Family, ...] = (
    # --- tasks ---------------------------------------------------------------------------
    Family("fedops_tasks", "gauge", ("status",), "Tasks by lifecycle status.", "database", "7 in all"),
    Family(
        "fedops_task_status",
        "gauge",
        ("task", "status"),
        "1 for the task's current lifecycle status, 0 for the others.",
        "database",
        "7",
    ),
    Family("fedops_task_rounds", "gauge", ("task",), "Rounds the task's spec asks for.", "database", "1"),
    Family(
        "fedops_task_min_clients",
        "gauge",
        ("task",),
        "Clients the task needs before a round starts (clients.min_available).",
        "database",
        "1",
    ),
    # --- rounds --------------------------------------------------------------------------
    Family(
        "fedops_rounds_completed_total",
        "counter",
        ("task",),
        "Rounds the FL server completed and reported (a round run again after a crash counts once).",
        "database",
        "1",
    ),
    Family(
        "fedops_round_current",
        "gauge",
        ("task",),
        "The round in progress (last completed + 1) while the task runs; the last completed round otherwise.",
        "database",
        "1",
    ),
    Family(
        "fedops_round_last_completed_timestamp_seconds",
        "gauge",
        ("task",),
        "When the last round's report arrived (Unix time).",
        "database",
        "1",
    ),
    Family(
        "fedops_round_duration_seconds",
        "histogram",
        ("task",),
        "Wall time of each completed round, as the FL server measured it.",
        "database",
        "17 (14 buckets + Inf, sum, count)",
    ),
    Family(
        "fedops_round_duration_median_seconds",
        "gauge",
        ("task",),
        "Median wall time of the task's completed rounds (the stall alert's yardstick).",
        "database",
        "1",
    ),
    Family(
        "fedops_round_phase_duration_seconds",
        "histogram",
        ("task", "phase"),
        "Time the FL server spent per phase of each round (configure, wait, aggregate, evaluate).",
        "database",
        "4 x 17",
    ),
    Family(
        "fedops_round_participants",
        "gauge",
        ("task",),
        "Clients whose results the last completed round aggregated.",
        "database",
        "1",
    ),
    Family(
        "fedops_round_failures",
        "gauge",
        ("task",),
        "Clients that failed in the last completed round.",
        "database",
        "1",
    ),
    Family(
        "fedops_round_client_failures_total",
        "counter",
        ("task",),
        "Client failures over all rounds.",
        "database",
        "1",
    ),
    Family(
        "fedops_round_clients_reported",
        "gauge",
        ("task",),
        "Clients that reported the round in progress so far.",
        "database",
        "1",
    ),
    Family(
        "fedops_round_straggler_ratio",
        "gauge",
        ("task",),
        "In the last completed round: the slowest client's total time over the median client's.",
        "database",
        "1",
    ),
    # --- model quality -------------------------------------------------------------------
    Family(
        "fedops_model_loss",
        "gauge",
        ("task",),
        "Aggregated loss of the last completed round.",
        "database",
        "1",
    ),
    Family(
        "fedops_model_accuracy",
        "gauge",
        ("task",),
        "Aggregated accuracy (0-1) of the last completed round.",
        "database",
        "1",
    ),
    Family(
        "fedops_model_metric",
        "gauge",
        ("task", "metric"),
        "The task's own numeric metrics of the last completed round (the first 20 by name).",
        "database",
        "<=20",
    ),
    # --- clients -------------------------------------------------------------------------
    Family("fedops_clients_enrolled", "gauge", ("task",), "Clients enrolled in the task.", "database", "1"),
    Family(
        "fedops_clients_online",
        "gauge",
        ("task",),
        "Enrolled clients whose heartbeat is recent.",
        "database",
        "1",
    ),
    Family(
        "fedops_clients_training",
        "gauge",
        ("task",),
        "Online clients that say they are training.",
        "database",
        "1",
    ),
    Family(
        "fedops_client_phase_duration_seconds",
        "histogram",
        ("task", "phase"),
        "Time clients spent per phase of each round (wait, load, train, evaluate, xai, upload).",
        "database",
        "6 x 17",
    ),
    Family(
        "fedops_client_examples_trained_total",
        "counter",
        ("task",),
        "Training examples the clients reported, summed over rounds.",
        "database",
        "1",
    ),
    Family(
        "fedops_client_spool_backlog",
        "gauge",
        ("task",),
        "Reports and images waiting in the clients' spools, as of their last heartbeats.",
        "database",
        "1",
    ),
    # --- XAI -----------------------------------------------------------------------------
    Family(
        "fedops_xai_explanations_generated_total",
        "counter",
        ("task",),
        "Explanation images the clients generated.",
        "database",
        "1",
    ),
    Family(
        "fedops_xai_explanations_uploaded_total",
        "counter",
        ("task",),
        "Explanation images stored by monitoring.",
        "database",
        "1",
    ),
    Family(
        "fedops_xai_uploaded_bytes_total",
        "counter",
        ("task",),
        "Bytes of the stored explanation images.",
        "database",
        "1",
    ),
    Family(
        "fedops_xai_faithfulness",
        "histogram",
        ("task",),
        "Faithfulness of each stored explanation image: confidence kept, the share (0-1) of the "
        "model's confidence in the class that the image multiplied by its map keeps; 1 is best.",
        "database",
        "16 (13 buckets + Inf, sum, count)",
    ),
    # --- FL servers ----------------------------------------------------------------------
    Family(
        "fedops_flserver_ready",
        "gauge",
        ("task",),
        "1 when the task's FL server is ready, as the registry last observed it.",
        "database",
        "1",
    ),
    Family(
        "fedops_flserver_restarts_total",
        "counter",
        ("task",),
        "Restarts of the task's FL server the registry observed.",
        "database",
        "1",
    ),
    Family(
        "fedops_flserver_last_seen_timestamp_seconds",
        "gauge",
        ("task",),
        "When the FL server's run controller last reached the registry (Unix time).",
        "database",
        "1",
    ),
    # --- per client (opt-in) -------------------------------------------------------------
    Family(
        "fedops_client_last_heartbeat_timestamp_seconds",
        "gauge",
        ("task", "client"),
        "When the client last sent a heartbeat (Unix time).",
        "database",
        "<=limit",
        per_client=True,
    ),
    Family(
        "fedops_client_round_duration_seconds",
        "gauge",
        ("task", "client", "phase"),
        "The client's time per phase in its last reported round.",
        "database",
        "<=7 x limit",
        per_client=True,
    ),
    # --- the services themselves ---------------------------------------------------------
    Family(
        "fedops_reports_ingested_total",
        "counter",
        ("kind",),
        "Reports stored by this process (resent duplicates not counted).",
        "process",
        "3 per process",
    ),
    Family(
        "http_requests_total",
        "counter",
        ("handler", "method", "status"),
        "HTTP requests by route template, method and status class (2xx, 4xx, 5xx).",
        "http",
        "routes x methods x classes",
    ),
    Family(
        "http_request_duration_seconds",
        "histogram",
        ("handler", "method", "status"),
        "HTTP request latency by route template, method and status class.",
        "http",
        "routes x methods x classes x buckets",
    ),
)


def family(name: str) -> Family:
    """The catalogued family called ``name`` (KeyError names what is missing)."""
    for entry in CATALOG:
        if entry.name == name:
            return entry
    raise KeyError(f"{name} is not in the metric catalog")


def catalog_markdown() -> str:
    """The README's metric table: one row per family, in catalog order."""
    rows = [
        "| metric | type | labels | meaning | series (per task unless noted) |",
        "|---|---|---|---|---|",
    ]
    for entry in CATALOG:
        labels = ", ".join(f"`{label}`" for label in entry.labels) or "-"
        meaning = entry.help + (" Only with `FEDOPS_METRICS_PER_CLIENT`." if entry.per_client else "")
        rows.append(f"| `{entry.name}` | {entry.type} | {labels} | {meaning} | {entry.cardinality} |")
    return "\n".join(rows) + "\n"
