"""A whole federation on one machine: the services, FL servers and edge clients as processes.

``make run`` (``tooling.demo``), the end-to-end tests and the benchmarks drive it. Every process is
started in its own process group and stopped by PID; loops are bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import RoundPublic, TaskPublic
from fedops.ports import free_port
from fedops.spec import TaskSpec

__all__ = ["LocalFederation", "kill_supervisors", "wait_for"]

T = TypeVar("T")
ENDED = ("finished", "failed", "stopped")


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop_group(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class LocalFederation:
    def __init__(
        self,
        root: Path,
        *,
        env: dict[str, str] | None = None,
        admin_token: str | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.root = root
        # `fedops up`'s data dir: root/data by default; the demo names the one `make up` uses.
        self.data = data_dir or root / "data"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bin = Path(sys.executable).parent
        base = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_")}
        self.env = {
            **base,
            "FLWR_TELEMETRY_ENABLED": "0",
            "FEDOPS_RECONCILE_INTERVAL_SECONDS": "0.5",
            **(env or {}),
        }
        if admin_token:
            self.env["FEDOPS_ADMIN_TOKEN"] = admin_token
        self.api_process: subprocess.Popen[bytes] | None = None
        self.clients: list[subprocess.Popen[bytes]] = []
        self._api: FedopsClient | None = None
        self._starts = 0
        self.created: list[str] = []  # the tasks this federation made, in order

    # --- the services ----------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_api(self) -> None:
        self._starts += 1
        data = str(self.data)
        command = [
            str(self.bin / "fedops"),
            "up",
            "--data-dir",
            data,
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.api_process = self._spawn(f"fedops-up-{self._starts}", command)
        token = self.env.get("FEDOPS_ADMIN_TOKEN") or wait_for(
            lambda: _read(self.data / "admin-token"), 60, "the generated admin token"
        )
        self._api = FedopsClient(self.url, token)
        wait_for(self._answers, 60, "the API")

    def kill_api(self) -> None:
        """SIGKILL the services, as a crash would (FL servers keep running, as pods would)."""
        assert self.api_process is not None
        os.killpg(self.api_process.pid, signal.SIGKILL)
        self.api_process.wait()

    def _answers(self) -> bool:
        try:
            self.api.registry.list_tasks(limit=1)
        except Exception:
            return False
        return True

    @property
    def api(self) -> FedopsClient:
        assert self._api is not None, "start_api() first"
        return self._api

    # --- tasks, servers, clients -----------------------------------------------------------------

    def create_task(self, document: dict[str, Any]) -> TaskPublic:
        task = self.api.registry.create_task(TaskSpec.model_validate(document))
        self.created.append(task.id)
        return task

    def provision(self, task_id: str, timeout: float = 120) -> float:
        """Provision and wait until ready; returns the seconds it took."""
        started = time.monotonic()
        self.api.registry.provision_server(task_id)
        wait_for(
            lambda: self.api.registry.server_status(task_id).ready_replicas > 0, timeout, "the FL server"
        )
        return time.monotonic() - started

    def start_clients(
        self, task_id: str, project: Path, count: int, *, partitioning: str = "iid", first: int = 0
    ) -> list[subprocess.Popen[bytes]]:
        token = self.api.registry.create_enrollment_token(task_id).token
        started = []
        for index in range(first, first + count):
            node_config = f'partition-id={index} num-partitions={first + count} partitioning="{partitioning}"'
            command = [
                str(self.bin / "fedops-client"), "run", str(project),
                "--registry", self.url, "--token", token,
                "--name", f"edge-{index}", "--node-config", node_config, "--quiet",
            ]  # fmt: skip
            started.append(self._spawn(f"client-{task_id[:8]}-{index}", command))
        self.clients.extend(started)
        wait_for(
            lambda: self.api.registry.list_clients(task_id, limit=1).count >= first + count, 120, "enrolment"
        )
        return started

    def server_pid(self, task_id: str) -> int | None:
        status = self.data / "servers" / task_id / "status.json"
        try:
            pid = json.loads(status.read_text()).get("child_pid")
        except (OSError, ValueError):
            return None
        return pid if isinstance(pid, int) else None

    def wait_until_ended(
        self, task_id: str, timeout: float = 600, on_round: Callable[[RoundPublic], None] | None = None
    ) -> TaskPublic:
        reported: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.api.registry.get_task(task_id)
            if on_round is not None:
                for entry in self.api.monitoring.rounds(task_id).data:
                    if entry.server is not None and entry.round not in reported:
                        reported.add(entry.round)
                        on_round(entry)
            if task.status in ENDED:
                return task
            time.sleep(0.5)
        raise TimeoutError(f"task {task_id} did not end within {timeout:.0f} s")

    def stop(self, *, keep_tasks: bool = False) -> None:
        """Stop clients, FL servers (through the API) and the services; by PID, always.

        Tests delete every task (and with it its FL server). ``keep_tasks`` keeps the data for
        a later `fedops up` on the same data dir (the demo): the servers of the tasks this
        federation made are paused (deleting one would mark a finished task "stopped"), and
        other tasks are not touched.
        """
        for client in self.clients:
            _stop_group(client)
        if self._api is not None and self.api_process is not None and self.api_process.poll() is None:
            with contextlib.suppress(Exception):  # the API may be gone; supervisors are killed below
                if keep_tasks:
                    for task_id in self.created:
                        with contextlib.suppress(ApiError):  # one never provisioned has none
                            self.api.registry.pause_server(task_id)
                else:
                    for task in self.api.registry.list_tasks(limit=500).data:
                        self.api.registry.delete_task(task.id)  # and with it its FL server
            self._api.close()
        if self.api_process is not None:
            _stop_group(self.api_process)
        # Only the supervisors of our tasks when the data dir is kept: another task's may be a
        # server a person's own `fedops up` runs (supervisors outlive the services on purpose).
        kill_supervisors(self.data / "servers", self.created if keep_tasks else None)


def _read(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def kill_supervisors(servers: Path, task_ids: list[str] | None = None) -> None:
    """SIGKILL every local-provisioner supervisor and server under ``servers`` (or those of
    ``task_ids``), by recorded PID."""
    records: Iterable[Path] = servers.glob("*/supervisor.pid.json")
    if task_ids is not None:
        records = (servers / task_id / "supervisor.pid.json" for task_id in task_ids)
    for record in records:
        if not record.exists():
            continue
        pids = [json.loads(record.read_text()).get("pid")]
        status = record.with_name("status.json")
        if status.exists():
            pids.append(json.loads(status.read_text()).get("child_pid"))
        for pid in pids:
            if isinstance(pid, int):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
