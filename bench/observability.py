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

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
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

RUNS = 7
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


# --- CPU time: what a loaded, shared machine does not blur ------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(fields: list[str], *, children: bool) -> float:
    # utime, stime (and the reaped children's cutime, cstime) in clock ticks.
    ticks = sum(int(v) for v in fields[11 : 15 if children else 13])
    return ticks / _TICKS


def _processes() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                yield int(entry.name), _stat(int(entry.name))


def stack_cpu_seconds(stack: FedopsStack) -> float:
    """CPU time of the `fedops up` process group (its own process group, started by the stack)."""
    assert stack.process is not None
    group = str(stack.process.pid)
    return sum(_cpu_seconds(fields, children=True) for _, fields in _processes() if fields[2] == group)


def postgres_cpu_seconds(data_dir: Path | None) -> float:
    """CPU time of the cluster: the postmaster, its live backends, and the ones it reaped."""
    if data_dir is None:
        return 0.0
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = _cpu_seconds(_stat(postmaster), children=True)
    return total + sum(
        _cpu_seconds(fields, children=False) for _, fields in _processes() if fields[1] == str(postmaster)
    )


@dataclass
class Costs:
    """One side's runs: records per second, and CPU seconds per 1,000 records."""

    rates: list[float] = field(default_factory=list)
    services_cpu: list[float] = field(default_factory=list)
    postgres_cpu: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "records_per_second": median(self.rates),
            "services_cpu_seconds_per_1000": median(self.services_cpu),
            "postgres_cpu_seconds_per_1000": median(self.postgres_cpu),
            "runs": {
                "rates": self.rates,
                "services_cpu": self.services_cpu,
                "postgres_cpu": self.postgres_cpu,
            },
        }


# --- ingest: FL metrics on vs off ----------------------------------------------------------------


def _ingest_run(
    stack: FedopsStack, postgres: Path | None, target: tuple[str, str, str], costs: Costs
) -> None:
    """BATCHES batches of BATCH_SIZE client reports; their rate and CPU time into ``costs``."""
    task_id, client_id, credential = target
    payloads = [
        [_client_report(task_id, client_id, (batch * BATCH_SIZE + i) % 1000) for i in range(BATCH_SIZE)]
        for batch in range(BATCHES)
    ]
    records = BATCH_SIZE * BATCHES
    auth = {"Authorization": f"Bearer {credential}"}
    with httpx.Client(base_url=stack.url, headers=auth, timeout=120) as http:
        services, database = stack_cpu_seconds(stack), postgres_cpu_seconds(postgres)
        started = time.perf_counter()
        for payload in payloads:
            http.post("/api/v1/monitoring/reports/batch", json={"reports": payload}).raise_for_status()
        costs.rates.append(records / (time.perf_counter() - started))
        costs.services_cpu.append((stack_cpu_seconds(stack) - services) * 1000 / records)
        costs.postgres_cpu.append((postgres_cpu_seconds(postgres) - database) * 1000 / records)


def _ingest_target(stack: FedopsStack) -> tuple[str, str, str]:
    """A task and an enrolled client to report for: (task id, client id, credential)."""
    with FedopsClient(stack.url, ADMIN_TOKEN) as admin:
        task = admin.registry.create_task(TaskSpec(name=f"ingest-{uuid.uuid4().hex[:8]}"))
        token = admin.registry.create_enrollment_token(task.id).token
    with FedopsClient(stack.url, token) as enrolling:
        client = enrolling.registry.enroll(task.id, EnrollmentRequest(name="bench-client"))
    return task.id, client.client_id, client.credential


def bench_ingest_metrics(on: FedopsStack, off: FedopsStack, postgres: Path | None) -> dict[str, Any]:
    sides = [(off, _ingest_target(off), Costs()), (on, _ingest_target(on), Costs())]
    for stack, target, _ in sides:
        _ingest_run(stack, postgres, target, Costs())  # warm-up
    for run in range(RUNS):  # interleaved, alternating who goes first: drift affects both alike
        for stack, target, costs in sides if run % 2 == 0 else sides[::-1]:
            _ingest_run(stack, postgres, target, costs)
    without, with_metrics = sides[0][2].summary(), sides[1][2].summary()
    rate_ratio = with_metrics["records_per_second"] / without["records_per_second"]

    def cpu(summary: dict[str, Any]) -> float:
        return float(summary["services_cpu_seconds_per_1000"] + summary["postgres_cpu_seconds_per_1000"])

    return {
        "batch_size": BATCH_SIZE,
        "on": with_metrics,
        "off": without,
        "ratio_on_over_off": rate_ratio,
        "cost": 1 - rate_ratio,
        "cpu_ratio_on_over_off": cpu(with_metrics) / cpu(without),
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


def _scrape(stack: FedopsStack, postgres: Path | None) -> dict[str, Any]:
    def cpu() -> float:
        return stack_cpu_seconds(stack) + postgres_cpu_seconds(postgres)

    before = cpu()
    metrics, size = _durations_ms(f"{stack.url}/metrics")
    metrics_cpu = cpu() - before
    before = cpu()
    healthz, _ = _durations_ms(f"{stack.url}/healthz")
    healthz_cpu = cpu() - before
    series = sum(
        1 for line in httpx.get(f"{stack.url}/metrics").text.splitlines() if line and not line.startswith("#")
    )
    return {
        "metrics_median_ms": median(metrics),
        "metrics_max_ms": max(metrics),
        "healthz_median_ms": median(healthz),
        "ratio_over_healthz": median(metrics) / median(healthz),
        # Services and PostgreSQL together, per request (the warm-up request included in the sum).
        "metrics_cpu_ms": metrics_cpu * 1000 / (SCRAPES + 1),
        "healthz_cpu_ms": healthz_cpu * 1000 / (SCRAPES + 1),
        "bytes": size,
        "series": series,
    }


def bench_observability(root: Path, cluster_url: str, postgres_data: Path | None) -> dict[str, Any]:
    """``postgres_data``: the cluster's data directory, to count its CPU time (None: not counted)."""
    results: dict[str, Any] = {}
    root.mkdir(parents=True, exist_ok=True)
    on = start_stack(root / "metrics-on", database_named(cluster_url, "ingest_on"))
    off = start_stack(root / "metrics-off", database_named(cluster_url, "ingest_off"), **FL_METRICS_OFF)
    try:
        results["empty"] = _scrape(on, postgres_data)  # an empty installation: the scrape's floor
        results["ingest"] = bench_ingest_metrics(on, off, postgres_data)
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
        results["populated"] = _scrape(populated, postgres_data)
    finally:
        populated.stop()
        kill_supervisors(root / "scrape" / "servers")
    per_client = start_stack(root / "scrape-per-client", scrape_database, **PER_CLIENT_ON)
    try:
        results["populated_per_client"] = _scrape(per_client, postgres_data)
    finally:
        per_client.stop()
        kill_supervisors(root / "scrape-per-client" / "servers")
    results["tasks"], results["clients"] = TASKS, TASKS * CLIENTS_PER_TASK
    results["ratio_populated_over_empty"] = (
        results["populated"]["metrics_median_ms"] / results["empty"]["metrics_median_ms"]
    )
    return results


def print_observability(results: dict[str, Any]) -> None:
    ingest = results["ingest"]
    print(f"\nreport ingest with the FL metrics on vs off (PostgreSQL, batches of {ingest['batch_size']}, "
          f"medians of {RUNS} interleaved runs)")  # fmt: skip
    print(f"{'':<26} {'records/s':>10} {'CPU s per 1,000: services':>26} {'PostgreSQL':>11}")
    for key, label in (("on", "metrics on"), ("off", "metrics off (baseline)")):
        side = ingest[key]
        services, database = side["services_cpu_seconds_per_1000"], side["postgres_cpu_seconds_per_1000"]
        print(f"{label:<26} {side['records_per_second']:>10.0f} {services:>26.3f} {database:>11.3f}")
    print(
        f"  on / off, records/s: {ingest['ratio_on_over_off']:.3f} (cost {ingest['cost']:.1%}; target <= 10%)"
    )
    print(f"  on / off, CPU per record: {ingest['cpu_ratio_on_over_off']:.3f} (steadier on a shared machine)")
    print(f"\nGET /metrics, {results['tasks']} tasks and {results['clients']} clients (medians of {SCRAPES})")
    print(
        f"{'installation':<34} {'/metrics ms':>12} {'max ms':>8} {'CPU ms':>7} {'/healthz ms':>12} "
        f"{'CPU ms':>7} {'series':>7} {'KiB':>6}"
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
            f"{entry['metrics_cpu_ms']:>7.1f} {entry['healthz_median_ms']:>12.1f} "
            f"{entry['healthz_cpu_ms']:>7.1f} {entry['series']:>7} {entry['bytes'] / 1024:>6.0f}"
        )
    print(f"  populated / empty: {results['ratio_populated_over_empty']:.1f}x; "
          f"populated / its /healthz: {results['populated']['ratio_over_healthz']:.1f}x")  # fmt: skip
