"""Round time of the fedops runtime next to Flower's default deployment and legacy path.

Same model (clients/mnist-xai), same data split (2 IID halves), FedAvg, 2 clients, one
local epoch, train only; 6 rounds of which the first is the warm-up, so medians are over
5 rounds. Platform overhead = round time - the slowest client's compute in that round.
Also: the fedops round with XAI on vs off, and POST /tasks -> server ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from fedops.api.schemas import ClientRoundReport
from fedops.ports import free_port
from tooling.local_federation import LocalFederation, wait_for

__all__ = ["bench_fedops", "bench_flower_default", "bench_legacy", "bench_time_to_ready"]

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "clients" / "mnist-xai"
BASELINE_APP = Path(__file__).resolve().parent / "flower_baseline"
ROUNDS = int(os.environ.get("FEDOPS_BENCH_ROUNDS", "6"))  # 1 warm-up + 5 measured


def _summarise(durations: list[float], compute: list[float]) -> dict[str, Any]:
    overhead = [d - c for d, c in zip(durations, compute, strict=True)]
    return {
        "median_round_seconds": median(durations),
        "median_client_compute_seconds": median(compute),
        "median_overhead_seconds": median(overhead),
        "rounds": [{"seconds": d, "client_compute": c} for d, c in zip(durations, compute, strict=True)],
    }


def _task(name: str, *, xai: bool) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((PROJECT / "task.yaml").read_text())
    document.update(
        name=name, rounds=ROUNDS,
        clients={"min_available": 2, "min_train": 2, "min_evaluate": 0, "fraction_evaluate": 0.0},
    )  # fmt: skip
    document["xai"]["enabled"] = xai
    return document


def bench_fedops(root: Path, *, xai: bool) -> dict[str, Any]:
    federation = LocalFederation(root)
    try:
        federation.start_api()
        task = federation.create_task(_task(f"bench-{'xai' if xai else 'plain'}", xai=xai))
        federation.provision(task.id)
        federation.start_clients(task.id, PROJECT, 2)
        federation.api.registry.start_run(task.id)
        final = federation.wait_until_ended(task.id, timeout=900)
        if final.status != "finished":
            raise RuntimeError(f"fedops run {final.status}: {final.status_reason}")
        rounds = {r.round: r for r in federation.api.monitoring.rounds(task.id).data}
        reports = [r for r in federation.api.monitoring.reports(task.id, kind="client_round").data
                   if isinstance(r, ClientRoundReport)]  # fmt: skip
        durations, compute = [], []
        for number in range(2, ROUNDS + 1):
            server = rounds[number].server
            assert server is not None and server.timings.total is not None
            durations.append(server.timings.total)
            compute.append(max(
                (r.timings.train or 0) + (r.timings.evaluate or 0) + (r.timings.xai or 0)
                for r in reports if r.round == number
            ))  # fmt: skip
        return _summarise(durations, compute)
    finally:
        federation.stop()


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _round_figures(out: Path) -> dict[str, Any]:
    figures = json.loads(out.read_text())
    ends = figures["round_ends"]
    durations = [ends[i] - ends[i - 1] for i in range(1, len(ends))]
    compute = [figures["client_compute"][str(r)] for r in range(2, len(ends) + 1)]
    return _summarise(durations, compute)


def bench_flower_default(root: Path) -> dict[str, Any]:
    """SuperLink + 2 SuperNodes with Flower's default (subprocess) isolation."""
    from flwr.cli.build import build_fab_from_disk

    from fedops_services.flserver.control import RunControl

    root.mkdir(parents=True, exist_ok=True)
    out = root / "rounds.json"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
           "PYTHONPATH": f"{BASELINE_APP}:{PROJECT}", "BENCH_OUT": str(out)}  # fmt: skip
    port = free_port()
    superlink = [
        str(bin_dir / "flower-superlink"), "--insecure", "--disable-runtime-dependency-installation",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    processes = [_spawn(superlink, {**env, "FLWR_HOME": str(root / "superlink")}, root / "superlink.log")]
    try:
        for index in range(2):
            node_env = {**env, "FLWR_HOME": str(root / f"node-{index}")}
            command = [
                str(bin_dir / "flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{port}",
                "--port", str(free_port()), "--node-config", f"partition-id={index} num-partitions=2",
            ]  # fmt: skip
            processes.append(_spawn(command, node_env, root / f"supernode-{index}.log"))
        wait_for(lambda: _healthy(port), 60, "the SuperLink")
        control = RunControl(f"127.0.0.1:{port}")
        fab = build_fab_from_disk(BASELINE_APP)
        run_id = control.submit(fab, hashlib.sha256(fab).hexdigest(), {"num-server-rounds": ROUNDS})
        state = wait_for(lambda: _finished(control, run_id), 1200, "the Flower run", interval=1.0)
        control.close()
        if state.sub_status != "completed":
            raise RuntimeError(f"Flower run {state.sub_status}: {state.details}")
        return _round_figures(out)
    finally:
        _stop(processes)


def _healthy(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _finished(control: Any, run_id: int) -> Any:
    state = control.state(run_id)
    return state if state.status == "finished" else None


def bench_legacy(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    out = root / "rounds.json"
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0"}
    module = [sys.executable, "-m", "bench.legacy_baseline"]
    server_command = [*module, "server", "--address", address, "--rounds", str(ROUNDS), "--out", str(out)]
    server = _spawn(server_command, env, root / "server.log")
    clients = [
        _spawn(
            [*module, "client", "--address", address, "--partition-id", str(i)], env, root / f"client-{i}.log"
        )
        for i in range(2)
    ]
    try:
        server.wait(timeout=900)
        return _round_figures(out)
    finally:
        _stop([server, *clients])


def bench_time_to_ready(root: Path, repetitions: int = 5) -> dict[str, Any]:
    federation = LocalFederation(root)
    seconds = []
    try:
        federation.start_api()
        for index in range(repetitions):
            started = time.monotonic()
            task = federation.create_task(_task(f"ready-{index}", xai=False))
            federation.provision(task.id)
            seconds.append(time.monotonic() - started)
            federation.api.registry.delete_task(task.id)
    finally:
        federation.stop()
    return {"median_seconds": median(seconds), "runs": seconds}
