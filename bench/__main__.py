"""`make bench`: run every benchmark, print medians and ratios, write bench-results.json.

`python -m bench control_plane`, `python -m bench kubernetes`, `python -m bench fl_runtime` or
`python -m bench observability` runs one group.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.control_plane import bench_ingest, bench_poll, start_stack
from bench.fl_rounds import bench_fedops, bench_flower_default, bench_legacy, bench_time_to_ready
from bench.kubernetes import kubernetes_benchmarks
from bench.observability import bench_observability, print_observability
from bench.support import write_results
from tests.support.postgres import ThrowawayPostgres
from tooling.local_federation import kill_supervisors

RESULTS = Path("bench-results.json")


def _database(cluster: ThrowawayPostgres | None) -> str:
    return os.environ.get("FEDOPS_BENCH_DATABASE_URL") or (cluster.url if cluster else "")


def control_plane(root: Path) -> dict[str, Any]:
    cluster = None if os.environ.get("FEDOPS_BENCH_DATABASE_URL") else ThrowawayPostgres()
    if cluster is not None:
        cluster.start()
    results: dict[str, Any] = {}
    try:
        stack = start_stack(root / "cached", _database(cluster))
        try:
            results["poll"] = bench_poll(stack, label="default (poll answers shared for 1 s per task)")
            results["ingest"] = bench_ingest(stack)
        finally:
            stack.stop()
            kill_supervisors(root / "cached" / "servers")
        uncached = start_stack(root / "uncached", _database(cluster), FEDOPS_POLL_CACHE_SECONDS="0")
        try:
            results["poll_uncached"] = bench_poll(uncached, label="poll cache off (one query per request)")
        finally:
            uncached.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    return results


def observability(root: Path) -> dict[str, Any]:
    """The metrics' cost: ingest with them on vs off, /metrics of a populated installation."""
    cluster = None if os.environ.get("FEDOPS_BENCH_DATABASE_URL") else ThrowawayPostgres()
    if cluster is not None:
        cluster.start()
    try:
        data = cluster.data if cluster is not None else None
        return bench_observability(root / "observability", _database(cluster), data)
    finally:
        if cluster is not None:
            cluster.stop()


def fl_runtime(root: Path) -> dict[str, Any]:
    """Each configuration in turn (they would compete for the 2 cores side by side)."""
    results = {
        "fedops": bench_fedops(root / "fedops", xai=False),
        "fedops_xai": bench_fedops(root / "fedops-xai", xai=True),
        "flower_default": bench_flower_default(root / "flower-default"),
        "flower_legacy": bench_legacy(root / "legacy"),
        "time_to_ready": bench_time_to_ready(root / "ready"),
    }
    fedops = results["fedops"]["median_round_seconds"]
    results["ratios"] = {
        "flower_default_over_fedops": results["flower_default"]["median_round_seconds"] / fedops,
        "fedops_over_legacy": fedops / results["flower_legacy"]["median_round_seconds"],
        "xai_on_over_off": results["fedops_xai"]["median_round_seconds"] / fedops,
    }
    return results


def _print_fl(results: dict[str, Any]) -> None:
    print("\nFL round time, 2 clients, MNIST CNN, FedAvg, 1 local epoch (medians of rounds 2-6)")
    print(f"{'configuration':<44} {'round s':>8} {'client compute s':>17} {'overhead s':>11}")
    labels = {
        "fedops": "fedops runtime (warm executor)",
        "fedops_xai": "fedops runtime, Grad-CAM on",
        "flower_default": "Flower default deployment (process/message)",
        "flower_legacy": "Flower legacy start_server/start_client",
    }
    for key, label in labels.items():
        entry = results[key]
        round_s, compute_s = entry["median_round_seconds"], entry["median_client_compute_seconds"]
        print(f"{label:<44} {round_s:>8.2f} {compute_s:>17.2f} {entry['median_overhead_seconds']:>11.2f}")
    ratios = results["ratios"]
    print(f"  Flower default / fedops: {ratios['flower_default_over_fedops']:.1f}x")
    print(f"  fedops / legacy floor:   {ratios['fedops_over_legacy']:.1f}x")
    print(f"  XAI on / off:            {ratios['xai_on_over_off']:.2f}")
    ready = results["time_to_ready"]["median_seconds"]
    print(f"  POST /tasks -> server ready (local provisioner): {ready:.2f} s")


def _print_kubernetes(results: dict[str, Any]) -> None:
    provision, reconcile = results["provision"], results["reconcile"]
    print("\nKubernetes provisioner on the test control plane (kwok node; medians)")
    print(f"  REST provision -> Deployment available: {provision['fedops_median_seconds']:.2f} s")
    print(f"  same objects applied directly (baseline): {provision['direct_apply_median_seconds']:.2f} s")
    print(f"  ratio: {provision['ratio']:.2f}x")
    print(
        f"  reconcile pass over {reconcile['tasks']} tasks: {reconcile['pass_median_seconds']:.2f} s "
        f"({reconcile['per_task_ms']:.0f} ms per task)"
    )
    print(f"  applying the same objects only (floor): {reconcile['apply_only_median_seconds']:.2f} s")
    print(f"  ratio: {reconcile['ratio']:.2f}x")


def _print(results: dict[str, Any]) -> None:
    print("\nclient-manager poll vs /healthz, same process, PostgreSQL, 64 connections (medians of 5 x 5 s)")
    print(
        f"{'variant':<50} {'poll req/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'trivial req/s':>14} {'ratio':>6}"
    )
    for key in ("poll", "poll_uncached"):
        entry = results[key]
        poll, trivial = entry["poll"], entry["trivial"]
        print(
            f"{entry['label']:<50} {poll['requests_per_second']:>11.0f} {poll['p50_ms']:>8.1f} "
            f"{poll['p99_ms']:>8.1f} {trivial['requests_per_second']:>14.0f} {entry['ratio']:>6.2f}"
        )
    ingest = results["ingest"]
    print(f"\nreport ingest into PostgreSQL over HTTP (medians of 5 runs, batches of {ingest['batch_size']})")
    print(f"  batched: {ingest['batched_records_per_second']:.0f} records/s")
    print(f"  one report per request (baseline): {ingest['single_records_per_second']:.0f} records/s")
    print(f"  ratio: {ingest['ratio']:.1f}x")


def main() -> None:
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    with tempfile.TemporaryDirectory(prefix="fedops-bench-") as directory:
        only = set(sys.argv[1:]) or {"control_plane", "kubernetes", "fl_runtime", "observability"}
        results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
        if "control_plane" in only:
            results["control_plane"] = control_plane(Path(directory))
        if "kubernetes" in only:
            results["kubernetes"] = kubernetes_benchmarks(Path(directory))
        if "fl_runtime" in only:
            results["fl_runtime"] = fl_runtime(Path(directory))
        if "observability" in only:
            results["observability"] = observability(Path(directory))
    if "control_plane" in results:
        _print(results["control_plane"])
    if "kubernetes" in results:
        _print_kubernetes(results["kubernetes"])
    if "fl_runtime" in results:
        _print_fl(results["fl_runtime"])
    if "observability" in results:
        print_observability(results["observability"])
    write_results(RESULTS, results)
    print(f"\nwrote {RESULTS.resolve()}")


if __name__ == "__main__":
    main()
