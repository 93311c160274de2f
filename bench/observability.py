"""What the Prometheus metrics cost, against PostgreSQL, each with its baseline in the same run.

- ingest: report ingest over HTTP into a `fedops up` with the FL metrics on (the default)
  next to one with them off (``FEDOPS_METRICS_FL=false``), runs interleaved, medians; the
  cost is 1 - on/off (the target is at most 10 %). Scrapes are measured separately below.
- scrape: ``GET /metrics`` with 100 tasks and 1,000 clients in the database (10 clients per
  task, heartbeats, server and client reports for 5 rounds each), next to ``GET /healthz`` of
  the same process and ``/metrics`` of an empty installation; with per-client series off
  (the default) and on (``FEDOPS_METRICS_PER_CLIENT=true``); medians of sequential scrapes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.control_plane import ADMIN_TOKEN, start_stack
from bench.support import median
from fedops.api import FedopsClient
from fedops.api.schemas import EnrollmentRequest
from fedops.spec import TaskSpec
from tests.support.stack import FedopsStack
from tooling.local_federation import kill_supervisors

__all__ = ["bench_observability", "database_named"]

RUNS = 5
BATCH_SIZE = 500
BATCHES = 10
TASKS = 100
CLIENTS_PER_TASK = 10
ROUNDS = 5
SCRAPES = 20
FL_METRICS_OFF = {"FEDOPS_METRICS_FL": "false"}
PER_CLIENT_ON = {"FEDOPS_METRICS_PER_CLIENT": "true"}


def database_named(cluster_url: str, name: str) -> str:
    """A fresh database ``name`` in the cluster of ``cluster_url``; its SQLAlchemy URL."""
    url = make_url(cluster_url)
    connect = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(connect, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


# --- the data ------------------------------------------------------------------------------------


def _client_report(task_id: str, client_id: str, round_number: int) -> dict[str, Any]:
    return {
        "kind": "client_round",
        "report_id": uuid.uuid4().hex,
        "task_id": task_id,
        "client_id": client_id,
        "round": round_number,
        "num_train_examples": 500,
        "num_eval_examples": 100,
        "train_loss": 0.5,
        "val_accuracy": 0.9,
        "metrics": {"f1": 0.8, "precision": 0.85},
        "timings": {"wait": 0.1, "load": 0.01, "train": 1.2, "evaluate": 0.2, "xai": 0.1, "upload": 0.05,
                    "total": 1.7},
    }  # fmt: skip


def _server_report(task_id: str, round_number: int, clients: int) -> dict[str, Any]:
    return {
        "kind": "server_round",
        "report_id": uuid.uuid4().hex,
        "task_id": task_id,
        "round": round_number,
        "num_clients": clients,
        "loss": 0.4,
        "accuracy": 0.91,
        "metrics": {"f1": 0.88},
        "timings": {"configure": 0.01, "wait": 1.8, "aggregate": 0.05, "evaluate": 0.3, "total": 2.2},
        "global_model_version": round_number,
    }


def _task_with_clients(admin: FedopsClient, url: str, name: str, count: int) -> tuple[str, list[str]]:
    """A task with ``count`` enrolled clients that have sent a heartbeat; (task id, client ids)."""
    task = admin.registry.create_task(TaskSpec(name=name))
    token = admin.registry.create_enrollment_token(task.id).token
    clients = []
    with FedopsClient(url, token) as enrolling:
        for index in range(count):
            enrolled = enrolling.registry.enroll(task.id, EnrollmentRequest(name=f"edge-{index}"))
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {enrolled.credential}"}
            ) as own:
                own.put(f"/api/v1/tasks/{task.id}/clients/{enrolled.client_id}/heartbeat",
                        json={"online": True, "training": index % 2 == 0, "spool_backlog": index % 3},
                        ).raise_for_status()  # fmt: skip
            clients.append(enrolled.client_id)
    return task.id, clients


def _populate(url: str) -> None:
    """TASKS tasks, CLIENTS_PER_TASK clients each, ROUNDS rounds of server and client reports."""
    with (
        FedopsClient(url, ADMIN_TOKEN) as admin,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=120) as http,
    ):
        for index in range(TASKS):
            task_id, clients = _task_with_clients(admin, url, f"scrape-{index:03d}", CLIENTS_PER_TASK)
            reports = [
                report
                for round_number in range(1, ROUNDS + 1)
                for report in (
                    _server_report(task_id, round_number, len(clients)),
                    *(_client_report(task_id, client, round_number) for client in clients),
                )
            ]
            http.post("/api/v1/monitoring/reports/batch", json={"reports": reports}).raise_for_status()


# --- ingest: FL metrics on vs off ----------------------------------------------------------------


def _ingest_run(url: str, task_id: str, client_id: str, credential: str) -> float:
    """Records per second of BATCHES batches of BATCH_SIZE client reports."""
    payloads = [
        [_client_report(task_id, client_id, (batch * BATCH_SIZE + i) % 1000) for i in range(BATCH_SIZE)]
        for batch in range(BATCHES)
    ]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {credential}"}, timeout=120) as http:
        started = time.perf_counter()
        for payload in payloads:
            http.post("/api/v1/monitoring/reports/batch", json={"reports": payload}).raise_for_status()
        return BATCH_SIZE * BATCHES / (time.perf_counter() - started)


def _ingest_target(stack: FedopsStack) -> Callable[[], float]:
    with FedopsClient(stack.url, ADMIN_TOKEN) as admin:
        task = admin.registry.create_task(TaskSpec(name=f"ingest-{uuid.uuid4().hex[:8]}"))
        token = admin.registry.create_enrollment_token(task.id).token
    with FedopsClient(stack.url, token) as enrolling:
        client = enrolling.registry.enroll(task.id, EnrollmentRequest(name="bench-client"))
    return lambda: _ingest_run(stack.url, task.id, client.client_id, client.credential)


def bench_ingest_metrics(on: FedopsStack, off: FedopsStack) -> dict[str, Any]:
    ingest_on, ingest_off = _ingest_target(on), _ingest_target(off)
    ingest_on(), ingest_off()  # warm-up
    with_metrics, without = [], []
    for _ in range(RUNS):  # interleaved, so drift affects both sides alike
        without.append(ingest_off())
        with_metrics.append(ingest_on())
    ratio = median(with_metrics) / median(without)
    return {
        "batch_size": BATCH_SIZE,
        "metrics_on_records_per_second": median(with_metrics),
        "metrics_off_records_per_second": median(without),
        "ratio_on_over_off": ratio,
        "cost": 1 - ratio,
        "runs": {"on": with_metrics, "off": without},
    }


# --- scrape duration -----------------------------------------------------------------------------


def _durations_ms(url: str, count: int = SCRAPES) -> tuple[list[float], int]:
    """Wall time of ``count`` sequential GETs (after one warm-up) and the last body's size."""
    durations = []
    with httpx.Client(timeout=120) as http:
        size = len(http.get(url).raise_for_status().content)
        for _ in range(count):
            started = time.perf_counter()
            response = http.get(url).raise_for_status()
            durations.append((time.perf_counter() - started) * 1000)
            size = len(response.content)
    return durations, size


def _scrape(stack: FedopsStack) -> dict[str, Any]:
    metrics, size = _durations_ms(f"{stack.url}/metrics")
    healthz, _ = _durations_ms(f"{stack.url}/healthz")
    series = sum(
        1 for line in httpx.get(f"{stack.url}/metrics").text.splitlines() if line and not line.startswith("#")
    )
    return {
        "metrics_median_ms": median(metrics),
        "metrics_max_ms": max(metrics),
        "healthz_median_ms": median(healthz),
        "ratio_over_healthz": median(metrics) / median(healthz),
        "bytes": size,
        "series": series,
    }


def bench_observability(root: Path, cluster_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    on = start_stack(root / "metrics-on", database_named(cluster_url, "ingest_on"))
    off = start_stack(root / "metrics-off", database_named(cluster_url, "ingest_off"), **FL_METRICS_OFF)
    try:
        results["empty"] = _scrape(on)  # an empty installation: the scrape's floor
        results["ingest"] = bench_ingest_metrics(on, off)
    finally:
        for stack, name in ((on, "metrics-on"), (off, "metrics-off")):
            stack.stop()
            kill_supervisors(root / name / "servers")
    scrape_database = database_named(cluster_url, "scrape")
    populated = start_stack(root / "scrape", scrape_database)
    try:
        started = time.perf_counter()
        _populate(populated.url)
        results["populate_seconds"] = time.perf_counter() - started
        results["populated"] = _scrape(populated)
    finally:
        populated.stop()
    per_client = start_stack(root / "scrape-per-client", scrape_database, **PER_CLIENT_ON)
    try:
        results["populated_per_client"] = _scrape(per_client)
    finally:
        per_client.stop()
    results["tasks"], results["clients"] = TASKS, TASKS * CLIENTS_PER_TASK
    results["ratio_populated_over_empty"] = (
        results["populated"]["metrics_median_ms"] / results["empty"]["metrics_median_ms"]
    )
    return results


def print_observability(results: dict[str, Any]) -> None:
    ingest = results["ingest"]
    print(f"\nreport ingest with the FL metrics on vs off (PostgreSQL, batches of {ingest['batch_size']}, "
          f"medians of {RUNS} interleaved runs)")  # fmt: skip
    print(f"  metrics on:  {ingest['metrics_on_records_per_second']:.0f} records/s")
    print(f"  metrics off: {ingest['metrics_off_records_per_second']:.0f} records/s (baseline)")
    print(f"  on / off: {ingest['ratio_on_over_off']:.3f} (cost {ingest['cost']:.1%}; target <= 10%)")
    print(f"\nGET /metrics, {results['tasks']} tasks and {results['clients']} clients (medians of {SCRAPES})")
    print(
        f"{'installation':<34} {'/metrics ms':>12} {'max ms':>8} {'/healthz ms':>12} {'series':>7} {'KiB':>7}"
    )
    labels = {
        "empty": "empty",
        "populated": "populated",
        "populated_per_client": "populated, per-client series on",
    }
    for key, label in labels.items():
        entry = results[key]
        print(
            f"{label:<34} {entry['metrics_median_ms']:>12.1f} {entry['metrics_max_ms']:>8.1f} "
            f"{entry['healthz_median_ms']:>12.1f} {entry['series']:>7} {entry['bytes'] / 1024:>7.0f}"
        )
    print(f"  populated / empty: {results['ratio_populated_over_empty']:.1f}x; "
          f"populated / its /healthz: {results['populated']['ratio_over_healthz']:.1f}x")  # fmt: skip
