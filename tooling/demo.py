"""``make run``: the whole platform on this machine, end to end, then a summary.

Starts the services (embedded default: SQLite, local provisioner), creates the MNIST
Grad-CAM task over REST, provisions its FL server, starts two edge clients as separate
processes (IID halves of the data), runs the task, and prints accuracy and time per
round, the Grad-CAM files and the URLs; ``demo-summary.json`` gets the same. Every
process it started is stopped by PID; the exit code is non-zero when anything failed.

Its data stays in the data dir `make up` uses (.fedops): afterwards `make up` shows the demo's
finished task, its rounds and its gallery in the console. Other tasks there are left alone;
a previous demo task (the same name) is deleted through the API before the new one is made.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from fedops.api import all_pages
from fedops.api.schemas import RoundPublic
from tooling.local_federation import LocalFederation

__all__ = ["DEMO_TASK", "main", "replace_previous_demo", "run_demo"]

# This file is run from a checkout (never installed): the repository is its parent's parent.
REPO = Path(__file__).resolve().parents[1]
DEMO_TASK = "mnist-xai-demo"  # the name that marks the demo's task in a shared data dir
CONSOLE_URL = "http://127.0.0.1:8080/"  # where `make up` serves the console (Makefile HOST, PORT)


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _show_round(total: int) -> Any:
    def show(entry: RoundPublic) -> None:
        server = entry.server
        if server is not None:
            seconds = server.timings.total or 0.0
            _say(f"round {entry.round}/{total}: accuracy {server.accuracy or 0:.3f}, {seconds:.2f} s")

    return show


def replace_previous_demo(federation: LocalFederation) -> list[str]:
    """Delete the tasks a previous demo made (by name), and nothing else; their ids."""
    api = federation.api
    tasks = all_pages(lambda limit, offset: api.registry.list_tasks(limit=limit, offset=offset))
    previous = [task.id for task in tasks if task.name == DEMO_TASK]
    for task_id in previous:
        api.registry.delete_task(task_id)
    return previous


def run_demo(root: Path, *, rounds: int, clients: int, project: Path, data_dir: Path) -> dict[str, Any]:
    if root.exists():  # the logs of the previous demo; the data dir is kept
        shutil.rmtree(root)
    # Made here for its owner alone, as `fedops up` would (the logs may lie inside it).
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    started = time.monotonic()
    federation = LocalFederation(root, data_dir=data_dir)
    try:
        federation.start_api()
        if replaced := replace_previous_demo(federation):
            _say(f"deleted the previous demo task ({', '.join(replaced)})")
        document = yaml.safe_load((project / "task.yaml").read_text())
        document["name"] = DEMO_TASK
        document["rounds"] = rounds
        document["clients"] = {"min_available": clients, "min_train": clients, "min_evaluate": clients}
        task = federation.create_task(document)
        _say(f"created task {task.name} ({task.id}), Grad-CAM on {task.spec.xai.target_layer}")
        ready_seconds = federation.provision(task.id)
        _say(f"FL server ready after {ready_seconds:.1f} s; starting {clients} edge clients")
        federation.start_clients(task.id, project, clients)
        federation.api.registry.start_run(task.id)
        final = federation.wait_until_ended(task.id, timeout=600, on_round=_show_round(rounds))
        summary = _summary(federation, task.id, final.status, final.status_reason, ready_seconds, project)
        summary["wall_seconds"] = round(time.monotonic() - started, 1)
        return summary
    finally:
        federation.stop(keep_tasks=True)  # its FL server is paused, its data stays


def _summary(
    federation: LocalFederation, task_id: str, status: str, reason: str, ready_seconds: float, project: Path
) -> dict[str, Any]:
    api = federation.api
    rounds = api.monitoring.rounds(task_id).data
    artifacts = api.monitoring.artifacts(task_id).data
    files = sorted(
        str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
        for path in (project / "outputs").rglob("gradcam_class_*.jpg")
        if task_id in path.parts
    )
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
                "clients": r.client_reports,
                "mean_client_train_seconds": r.mean_client_train_seconds,
            }
            for r in rounds
        ],
        "gradcam": {
            "uploaded": len(artifacts),
            "per_round": dict(sorted(Counter(a.round for a in artifacts).items())),
            "files": files,
        },
        "data_dir": str(federation.data),
        "console": {"url": CONSOLE_URL, "admin_token_file": str(federation.data / "admin-token")},
        "urls": {
            "api": f"{federation.url}/api/v1",
            "openapi": f"{federation.url}/openapi.json",
            "rounds": f"{federation.url}/api/v1/monitoring/tasks/{task_id}/rounds",
            "artifacts": f"{federation.url}/api/v1/monitoring/tasks/{task_id}/artifacts",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.demo", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--project", type=Path, default=REPO / "clients" / "mnist-xai")
    parser.add_argument("--work-dir", type=Path, default=Path(".fedops") / "demo", help="logs")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".fedops"), help="fedops up's data dir (make up's DATA_DIR)"
    )
    parser.add_argument("--summary", type=Path, default=Path("demo-summary.json"))
    args = parser.parse_args(argv)
    try:
        summary = run_demo(args.work_dir.resolve(), rounds=args.rounds, clients=args.clients,
                           project=args.project.resolve(), data_dir=args.data_dir.resolve())  # fmt: skip
    except Exception as exc:
        _say(f"FAILED: {exc}; logs in {args.work_dir / 'logs'}")
        return 1
    args.summary.write_text(json.dumps(summary, indent=2) + "\n")
    _say(f"task {summary['status']} in {summary['wall_seconds']} s (summary: {args.summary})")
    for entry in summary["rounds"]:
        _say(
            f"  round {entry['round']}: accuracy {entry['accuracy'] or 0:.3f}, {entry['seconds'] or 0:.2f} s"
        )
    gradcam = summary["gradcam"]
    _say(f"  Grad-CAM: {gradcam['uploaded']} images uploaded, per round {gradcam['per_round']}")
    _say(f"  e.g. {gradcam['files'][0] if gradcam['files'] else '-'}")
    _say(f"  API: {summary['urls']['api']} (stopped now; OpenAPI at {summary['urls']['openapi']})")
    console = summary["console"]
    _say(f"  console: `make up`, then open {console['url']} and sign in with the admin token in")
    _say(f"           {console['admin_token_file']} (the demo's task: {DEMO_TASK}, in {summary['data_dir']})")
    ok = summary["status"] == "finished" and len(summary["rounds"]) == args.rounds
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
