"""One task's FL server: Flower's SuperLink, the fleet proxy and the run controller.

- The SuperLink listens on a loopback port only; its state lives in the task's volume.
- The fleet proxy is what edge machines reach (``/v1/fleet/*`` and ``/health``).
- The run controller follows the registry: when the task is ``running`` it submits a
  Flower run of the fedops ServerApp (which resumes from the last checkpoint), when the
  task is stopped it stops the run, and when a run fails it says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import RunResult
from fedops.child_processes import die_with_parent

__all__ = ["RunController", "ServerRuntime", "superlink_command"]

logger = logging.getLogger("fedops.server")


def superlink_command(*, port: int, data_dir: Path) -> list[str]:
    import shutil
    import sys

    executable = shutil.which("flower-superlink") or str(Path(sys.executable).with_name("flower-superlink"))
    return [
        executable,
        "--insecure",  # loopback only: edge traffic arrives through the fleet proxy
        "--disable-runtime-dependency-installation",  # never install packages at run time
        "--database", str(data_dir / "superlink.db"),
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunController:
    """Keeps the Flower run in line with the task's status in the registry."""

    def __init__(self, api: FedopsClient, control_address: str, task_id: str, interval: float = 1.0) -> None:
        from fedops_services.flserver.control import RunControl

        self._api = api
        self._control = RunControl(control_address)
        self._task_id = task_id
        self._interval = interval
        self.active_run: int | None = None

    def step(self) -> None:
        status = self._api.registry.get_task(self._task_id).status
        if self.active_run is None:
            if status == "running":
                self.active_run = self._control.start(self._task_id)
                logger.info("submitted Flower run %d for task %s", self.active_run, self._task_id)
            return
        state = self._control.state(self.active_run)
        if status == "stopped" and state.status != "finished":
            logger.info("task stopped: stopping Flower run %d", self.active_run)
            self._control.stop(self.active_run)
            self.active_run = None
            return
        if state.status != "finished":
            return
        run_id, self.active_run = self.active_run, None
        logger.info("Flower run %d ended (%s)\n%s", run_id, state.sub_status, self._control.logs(run_id))
        if self._api.registry.get_task(self._task_id).status == "running":  # the ServerApp did not say
            outcome = "finished" if state.sub_status == "completed" else "failed"
            reason = "" if outcome == "finished" else (state.details or "the ServerApp failed")[:2000]
            self._api.registry.report_run_result(self._task_id, RunResult(status=outcome, reason=reason))

    def loop(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            try:
                self.step()
            except (ApiError, OSError) as exc:  # registry or SuperLink briefly away: retry
                logger.warning("run controller: %s", exc)
            except Exception:
                logger.exception("run controller step failed")

    def close(self) -> None:
        self._control.close()


@dataclass
class ServerRuntime:
    task_id: str
    api_url: str
    token: str
    data_dir: Path
    host: str
    port: int

    def run(self) -> int:
        import uvicorn

        from fedops_services.flserver.proxy import fleet_proxy

        self.data_dir.mkdir(parents=True, exist_ok=True)
        internal_port = _free_port()
        env = {
            **os.environ,
            "FLWR_HOME": str(self.data_dir / "flwr-home"),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.05",
            "FEDOPS_SERVER_DATA_DIR": str(self.data_dir.resolve()),
        }
        command = superlink_command(port=internal_port, data_dir=self.data_dir)
        superlink = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        stop = threading.Event()
        api = FedopsClient(self.api_url, self.token)
        controller = RunController(api, f"127.0.0.1:{internal_port}", self.task_id)
        thread = threading.Thread(target=controller.loop, args=(stop,), name="run-controller", daemon=True)
        thread.start()
        try:
            uvicorn.run(
                fleet_proxy(f"http://127.0.0.1:{internal_port}"),
                host=self.host, port=self.port, log_level="warning", access_log=False,
            )  # fmt: skip
        finally:
            stop.set()
            thread.join(timeout=10)
            if controller.active_run is not None:
                with contextlib.suppress(Exception):
                    controller._control.stop(controller.active_run)
            controller.close()
            api.close()
            superlink.send_signal(signal.SIGTERM)
            try:
                superlink.wait(timeout=15)
            except subprocess.TimeoutExpired:
                superlink.kill()
                superlink.wait()
        return 0
