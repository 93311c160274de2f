"""`make bench`: run every benchmark, print medians and ratios, write bench-results.json."""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from bench.control_plane import bench_ingest, bench_poll, start_stack
from bench.support import write_results
from tests.support.postgres import ThrowawayPostgres
from tests.support.processes import kill_supervised_servers

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
            kill_supervised_servers(root / "cached" / "servers")
        uncached = start_stack(root / "uncached", _database(cluster), FEDOPS_POLL_CACHE_SECONDS="0")
        try:
            results["poll_uncached"] = bench_poll(uncached, label="poll cache off (one query per request)")
        finally:
            uncached.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    return results


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
        results = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "control_plane": control_plane(Path(directory)),
        }
    _print(results["control_plane"])
    write_results(RESULTS, results)
    print(f"\nwrote {RESULTS.resolve()}")


if __name__ == "__main__":
    main()
