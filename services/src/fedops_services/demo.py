"""``make run``: the whole platform on this machine, end to end, then a summary.

Starts the services (embedded default: SQLite, local provisioner), creates the MNIST
Grad-CAM task over REST, provisions its FL server, starts two edge clients as separate
processes (IID halves of the data), runs the task, and prints accuracy and time per
round, the Grad-CAM files and the URLs; ``demo-summary.json`` gets the same. Every
process it started is stopped by PID; the exit code is non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from fedops.api import FedopsClient
from fedops.spec import TaskSpec

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


class Processes:
    """Children in their own process groups, stopped by PID whatever happens."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        child = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_demo(root: Path, *, rounds: int, clients: int, project: Path) -> dict[str, Any]:
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_")}
    env |= {"FLWR_TELEMETRY_ENABLED": "0", "FEDOPS_RECONCILE_INTERVAL_SECONDS": "0.5"}
    bin_dir = Path(sys.executable).parent
    processes = Processes(root / "logs")
    started = time.monotonic()
    try:
        processes.start("fedops-up", [str(bin_dir / "fedops"), "up", "--data-dir", str(root / "data"),
                                      "--port", str(port), "--log-level", "warning"], env)  # fmt: skip
        admin_token = _wait(lambda: _read(root / "data" / "admin-token"), 60, "the admin token")
        api = FedopsClient(url, admin_token)
        _wait(lambda: _ready(api), 60, "the API")
        document = yaml.safe_load((project / "task.yaml").read_text())
        document["rounds"] = rounds
        document["clients"] = {"min_available": clients, "min_train": clients, "min_evaluate": clients}
        task = api.registry.create_task(TaskSpec.model_validate(document))
        _say(
            f"created task {task.name} ({task.id}) with XAI {task.spec.xai.method} on {task.spec.xai.target_layer}"
        )
        provision_started = time.monotonic()
        api.registry.provision_server(task.id)
        status = _wait(lambda: _server_ready(api, task.id), 120, "the FL server")
        ready_seconds = time.monotonic() - provision_started
        _say(f"FL server ready at {status.fleet_address} after {ready_seconds:.1f} s")
        token = api.registry.create_enrollment_token(task.id).token
        for index in range(clients):
            node_config = f"partition-id={index} num-partitions={clients}"
            processes.start(f"client-{index}", [str(bin_dir / "fedops-client"), "run", str(project), "--registry", url,
                            "--token", token, "--name", f"edge-{index}", "--node-config", node_config, "--quiet"],
                            env)  # fmt: skip
        _say(f"started {clients} edge clients; starting the run")
        _wait(lambda: len(api.registry.list_clients(task.id).data) == clients, 120, "the clients to enrol")
        api.registry.start_run(task.id)
        seen = 0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            current = api.registry.get_task(task.id)
            for entry in api.monitoring.rounds(task.id).data[seen:]:
                if entry.server is not None:
                    total = entry.server.timings.total or 0.0
                    _say(
                        f"round {entry.round}/{rounds}: accuracy {entry.server.accuracy or 0:.3f}, {total:.2f} s"
                    )
                    seen += 1
            if current.status in ("finished", "failed", "stopped"):
                break
            time.sleep(0.5)
        final = api.registry.get_task(task.id)
        summary = _summary(api, task.id, url, final.status, final.status_reason, ready_seconds, project)
        summary["wall_seconds"] = round(time.monotonic() - started, 1)
        api.registry.delete_server(task.id)  # stops the FL server's processes
        api.close()
        return summary
    finally:
        processes.stop_all()


def _read(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _ready(api: FedopsClient) -> bool:
    try:
        api.registry.list_tasks(limit=1)
    except Exception:  # not up yet
        return False
    return True


def _server_ready(api: FedopsClient, task_id: str) -> Any:
    status = api.registry.server_status(task_id)
    return status if status.ready_replicas > 0 else None


def _summary(
    api: FedopsClient, task_id: str, url: str, status: str, reason: str, ready_seconds: float, project: Path
) -> dict[str, Any]:
    rounds = api.monitoring.rounds(task_id).data
    artifacts = api.monitoring.artifacts(task_id).data
    files = sorted(str(p.relative_to(REPO) if p.is_relative_to(REPO) else p)
                   for p in (project / "outputs").rglob(f"*{task_id}*/**/gradcam_class_*.jpg"))  # fmt: skip
    return {
        "task_id": task_id,
        "status": status,
        "reason": reason,
        "server_ready_seconds": round(ready_seconds, 2),
        "rounds": [
            {
                "round": r.round,
                "accuracy": r.server.accuracy if r.server else None,
                "loss": r.server.loss if r.server else None,
                "seconds": r.server.timings.total if r.server else None,
                "mean_client_train_seconds": r.mean_client_train_seconds,
            }
            for r in rounds
        ],
        "gradcam": {"uploaded": len(artifacts), "files": files},
        "urls": {
            "api": f"{url}/api/v1",
            "docs": f"{url}/docs",
            "rounds": f"{url}/api/v1/monitoring/tasks/{task_id}/rounds",
            "artifacts": f"{url}/api/v1/monitoring/tasks/{task_id}/artifacts",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fedops_services.demo", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--project", type=Path, default=REPO / "clients" / "mnist-xai")
    parser.add_argument("--work-dir", type=Path, default=Path(".fedops") / "demo")
    parser.add_argument("--summary", type=Path, default=Path("demo-summary.json"))
    args = parser.parse_args(argv)
    try:
        summary = run_demo(args.work_dir.resolve(), rounds=args.rounds, clients=args.clients,
                           project=args.project.resolve())  # fmt: skip
    except Exception as exc:
        _say(f"FAILED: {exc}; logs in {args.work_dir / 'logs'}")
        return 1
    args.summary.write_text(json.dumps(summary, indent=2) + "\n")
    _say(f"task {summary['status']} in {summary['wall_seconds']} s; summary in {args.summary}")
    for entry in summary["rounds"]:
        _say(f"  round {entry['round']}: accuracy {entry['accuracy']:.3f}, {entry['seconds']:.2f} s")
    _say(f"  Grad-CAM: {summary['gradcam']['uploaded']} images uploaded; files e.g. "
         f"{', '.join(summary['gradcam']['files'][:2])}")  # fmt: skip
    _say(f"  the API was at {summary['urls']['api']} (docs: {summary['urls']['docs']})")
    ok = summary["status"] == "finished" and len(summary["rounds"]) == args.rounds
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
