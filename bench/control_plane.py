"""Control-plane benchmarks against PostgreSQL: the client-manager poll and report ingest.

Each measurement runs its baseline in the same run, interleaved, and reports medians:
- poll: ``GET /manager-state`` next to ``GET /healthz`` of the same process, 64
  connections (wrk), with the default poll cache and with the cache off;
- ingest: batches of 500 client reports next to one report per request.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.support import median, median_wrk, run_wrk
from fedops.api import FedopsClient
from fedops.api.schemas import EnrollmentRequest
from fedops.spec import TaskSpec
from tests.support.stack import FedopsStack

__all__ = ["bench_ingest", "bench_poll", "start_stack"]

ADMIN_TOKEN = "bench-admin-token-0123456789"  # noqa: S105 - a throwaway benchmark stack
CONNECTIONS = 64
SECONDS = 5
RUNS = 5


def start_stack(root: Path, database_url: str, **env: str) -> FedopsStack:
    stack = FedopsStack(
        root, env={"FEDOPS_DATABASE_URL": database_url, "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN, **env}
    )
    stack.start()
    return stack


def _task_with_client(url: str, name: str) -> tuple[str, str, str]:
    """Create a task and enrol one client; returns (task id, client id, credential)."""
    with FedopsClient(url, ADMIN_TOKEN) as admin:
        task = admin.registry.create_task(TaskSpec(name=name))
        token = admin.registry.create_enrollment_token(task.id).token
    with FedopsClient(url, token) as enrolling:
        client = enrolling.registry.enroll(task.id, EnrollmentRequest(name="bench-client"))
    return task.id, client.client_id, client.credential


def bench_poll(stack: FedopsStack, *, label: str) -> dict[str, Any]:
    task_id, _, credential = _task_with_client(stack.url, f"poll-{uuid.uuid4().hex[:8]}")
    poll_url = f"{stack.url}/api/v1/tasks/{task_id}/manager-state"
    auth = {"Authorization": f"Bearer {credential}"}
    run_wrk(poll_url, seconds=2, connections=CONNECTIONS, headers=auth)  # warm-up
    run_wrk(f"{stack.url}/healthz", seconds=2, connections=CONNECTIONS)
    polls, trivial = [], []
    for _ in range(RUNS):  # interleaved, so drift affects both sides alike
        trivial.append(run_wrk(f"{stack.url}/healthz", seconds=SECONDS, connections=CONNECTIONS))
        polls.append(run_wrk(poll_url, seconds=SECONDS, connections=CONNECTIONS, headers=auth))
    poll, baseline = median_wrk(polls), median_wrk(trivial)
    return {
        "label": label,
        "connections": CONNECTIONS,
        "poll": poll,
        "trivial": baseline,
        "ratio": poll["requests_per_second"] / baseline["requests_per_second"],
    }


def _client_reports(task_id: str, client_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "kind": "client_round",
            "report_id": uuid.uuid4().hex,
            "task_id": task_id,
            "client_id": client_id,
            "round": index % 100,
            "num_train_examples": 500,
            "train_loss": 0.5,
            "val_accuracy": 0.9,
            "metrics": {"f1": 0.8, "precision": 0.85},
            "timings": {"wait": 0.1, "load": 0.01, "train": 1.2, "evaluate": 0.2, "xai": 0.1, "total": 1.7},
        }
        for index in range(count)
    ]


def bench_ingest(stack: FedopsStack, *, batch_size: int = 500, batches: int = 10) -> dict[str, Any]:
    task_id, client_id, credential = _task_with_client(stack.url, f"ingest-{uuid.uuid4().hex[:8]}")
    headers = {"Authorization": f"Bearer {credential}"}
    batched, single = [], []
    with httpx.Client(base_url=stack.url, headers=headers, timeout=120) as http:

        def send_batches() -> float:
            payloads = [_client_reports(task_id, client_id, batch_size) for _ in range(batches)]
            started = time.perf_counter()
            for payload in payloads:
                http.post("/api/v1/monitoring/reports/batch", json={"reports": payload}).raise_for_status()
            return batch_size * batches / (time.perf_counter() - started)

        def send_singles(count: int = 500) -> float:
            reports = _client_reports(task_id, client_id, count)
            started = time.perf_counter()
            for report in reports:
                http.post("/api/v1/monitoring/reports", json=report).raise_for_status()
            return count / (time.perf_counter() - started)

        send_batches()  # warm-up
        send_singles(50)
        for _ in range(RUNS):
            batched.append(send_batches())
            single.append(send_singles())
    return {
        "batch_size": batch_size,
        "batched_records_per_second": median(batched),
        "single_records_per_second": median(single),
        "ratio": median(batched) / median(single),
        "runs": {"batched": batched, "single": single},
    }
