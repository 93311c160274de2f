"""The client manager: everything an edge machine does around training.

It heartbeats (online, training, model version), waits until the task's server is
ready and the run has started, starts Flower's SuperNode against the task's fleet
address and the warm executor next to it, restarts the SuperNode should it die,
delivers spooled reports, and stops when the task finishes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import HeartbeatRequest, ManagerState
from fedops.child_processes import die_with_parent
from fedops.client import flower_app
from fedops.client.executor import WarmExecutor
from fedops.client.trainer import Trainer
from fedops.ports import free_port

__all__ = ["ClientManager", "ManagerOptions"]

logger = logging.getLogger("fedops.client")
_ENDED = ("finished", "failed", "stopped")


@dataclass
class ManagerOptions:
    node_config: dict[str, Any]
    work_dir: Path
    max_wait_seconds: float = 3600.0
    poll_seconds: float = 1.0
    node_key: Path | None = None


def _node_config_text(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        rendered = (
            f'"{value}"'
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool)
            else value
        )
        parts.append(f"{key}={rendered}")
    return " ".join(parts)


class ClientManager:
    def __init__(
        self, api: FedopsClient, task_id: str, client_id: str, trainer: Trainer, options: ManagerOptions
    ):
        self.api = api
        self.task_id = task_id
        self.client_id = client_id
        self.trainer = trainer
        self.options = options
        self._stop = threading.Event()
        self._supernode: subprocess.Popen[bytes] | None = None
        self.supernode_starts = 0

    # --- heartbeats ----------------------------------------------------------------------------

    def _heartbeat(self, online: bool = True) -> ManagerState | None:
        request = HeartbeatRequest(
            online=online,
            training=self.trainer.training,
            global_model_version=self.trainer.model_version,
            spool_backlog=self.trainer.spool.pending(),  # one that only grows: monitoring is not reached
        )
        try:
            self.api.registry.heartbeat(self.task_id, self.client_id, request)
            return self.api.registry.manager_state(self.task_id)
        except ApiError as exc:
            logger.warning("registry unreachable (%s); retrying", exc.message)
            return None

    def _heartbeats(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._heartbeat()
            except Exception:  # a dead heartbeat thread would make a working client look offline
                logger.exception("heartbeat failed unexpectedly; the next one follows")

    # --- SuperNode -----------------------------------------------------------------------------

    def _transport_args(self, state: ManagerState) -> list[str]:
        """Plain HTTP for the embedded default on loopback; otherwise TLS, and the node key
        when the server authenticates SuperNodes."""
        if state.fleet_root_certificates is None:
            return ["--insecure"]
        ca = self.options.work_dir / "fleet-ca.pem"
        ca.write_text(state.fleet_root_certificates)
        args = ["--root-certificates", str(ca)]
        if state.supernode_auth:
            if self.options.node_key is None or not self.options.node_key.exists():
                raise SystemExit(
                    "the server authenticates SuperNodes: enrol with an enrolment token to get a key"
                )
            args += ["--auth-supernode-private-key", str(self.options.node_key)]
        return args

    def _start_supernode(self, state: ManagerState, runtime_port: int) -> None:
        env = {
            **os.environ,
            "FLWR_HOME": str(self.options.work_dir / "flwr-home"),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
        }
        assert state.fleet_address is not None
        command = [
            sys.executable, "-m", "fedops.client.supernode",
            *self._transport_args(state),
            "--superlink", state.fleet_address,
            "--isolation", "process",  # the warm executor runs the tasks
            "--host", "127.0.0.1",
            "--port", str(runtime_port),
            "--node-config", _node_config_text(self.options.node_config),
        ]  # fmt: skip
        log = (self.options.work_dir / "supernode.log").open("ab")
        self._supernode = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.supernode_starts += 1
        logger.info("SuperNode started (pid %d): %s", self._supernode.pid, shlex.join(command[2:]))

    def _stop_supernode(self) -> None:
        process = self._supernode
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    # --- main loop -----------------------------------------------------------------------------

    def _wait_until_running(self) -> ManagerState | None:
        deadline = time.monotonic() + self.options.max_wait_seconds
        announced = False
        while time.monotonic() < deadline and not self._stop.is_set():
            state = self._heartbeat()
            if state is not None:
                if state.task_status in _ENDED:
                    return state
                if state.server_ready and state.fleet_address and state.task_status == "running":
                    return state
                if not announced:
                    logger.info("waiting for the task to run (status %s, server ready %s)",
                                state.task_status, state.server_ready)  # fmt: skip
                    announced = True
            self._stop.wait(self.options.poll_seconds)
        return None

    def run(self) -> int:
        """Take part in the task until it ends; the exit code says how it ended."""
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        state = self._wait_until_running()
        if state is None:
            logger.error("the task did not start within %.0f s", self.options.max_wait_seconds)
            return 1
        if state.task_status in _ENDED:
            logger.info("the task is %s", state.task_status)
            return 0 if state.task_status == "finished" else 1
        assert state.fleet_address is not None
        flower_app.install(self.trainer)
        runtime_port = free_port()
        executor = WarmExecutor(f"127.0.0.1:{runtime_port}", flower_app.app, self.trainer.timings)
        executor_thread = threading.Thread(
            target=executor.serve, args=(self._stop,), name="executor", daemon=True
        )
        heartbeat_thread = threading.Thread(
            target=self._heartbeats, args=(state.heartbeat_interval_seconds,), name="heartbeat", daemon=True
        )
        self._start_supernode(state, runtime_port)
        spool_thread = self.trainer.spool.deliver_in_background(self._stop, interval=2.0)
        executor_thread.start()
        heartbeat_thread.start()
        outcome = "stopped"
        server_was_down = False
        try:
            while not self._stop.wait(self.options.poll_seconds):
                current = self._poll()
                if current is not None and current.task_status in _ENDED:
                    outcome = current.task_status
                    break
                if self._supernode is not None and self._supernode.poll() is not None:
                    logger.warning("SuperNode exited with %s; restarting it", self._supernode.returncode)
                    self._start_supernode(state, runtime_port)
                up = self._server_up(state)
                if up and server_was_down:
                    # A restarted server runs a new Flower run; a SuperNode that lost its link
                    # mid-message can stay stuck on the old one, so start it afresh.
                    logger.warning("the FL server is back; restarting the SuperNode")
                    self._stop_supernode()
                    self._start_supernode(state, runtime_port)
                server_was_down = not up
        finally:
            self._stop.set()
            self._stop_supernode()
            executor_thread.join(timeout=30)
            heartbeat_thread.join(timeout=5)
            spool_thread.join(timeout=30)
            self.trainer.spool.flush()  # what is left goes out before the client exits
            with contextlib.suppress(ApiError):
                final = HeartbeatRequest(online=False, spool_backlog=self.trainer.spool.pending())
                self.api.registry.heartbeat(self.task_id, self.client_id, final)
        logger.info("task %s; %d task(s) run, %d item(s) still spooled", outcome, executor.tasks_run,
                    self.trainer.spool.pending())  # fmt: skip
        return 0 if outcome == "finished" else 1

    def _server_up(self, state: ManagerState) -> bool:
        """Whether the task's FL server answers on its fleet port."""
        import httpx

        scheme, verify = ("http", True) if state.fleet_root_certificates is None else (
            "https", str(self.options.work_dir / "fleet-ca.pem")
        )  # fmt: skip
        try:
            return httpx.get(
                f"{scheme}://{state.fleet_address}/health", timeout=2.0, verify=verify
            ).is_success
        except httpx.HTTPError:
            return False

    def _poll(self) -> ManagerState | None:
        try:
            return self.api.registry.manager_state(self.task_id)
        except ApiError:
            return None

    def stop(self, *_: object) -> None:
        self._stop.set()
