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


@dataclass(frozen=True)
class FleetTls:
    """Certificate, key and CA of the fleet port (FEDOPS_FLEET_TLS_*); None means plain HTTP."""

    cert: Path
    key: Path
    ca: Path
    supernode_auth: bool

    @classmethod
    def from_env(cls) -> FleetTls | None:
        cert, key, ca = (os.environ.get(f"FEDOPS_FLEET_TLS_{part}") for part in ("CERT", "KEY", "CA"))
        if not (cert and key and ca):
            return None
        return cls(Path(cert), Path(key), Path(ca), os.environ.get("FEDOPS_SUPERNODE_AUTH") == "1")


def superlink_command(*, port: int, data_dir: Path, tls: FleetTls | None = None) -> list[str]:
    import shutil
    import sys

    executable = shutil.which("flower-superlink") or str(Path(sys.executable).with_name("flower-superlink"))
    command = [
        executable,
        "--disable-runtime-dependency-installation",  # never install packages at run time
        "--database", str(data_dir / "superlink.db"),
        "--host", "127.0.0.1",  # loopback only: edge traffic arrives through the fleet proxy
        "--port", str(port),
    ]  # fmt: skip
    if tls is None:
        return [*command, "--insecure"]
    command += [
        "--ssl-certfile",
        str(tls.cert),
        "--ssl-keyfile",
        str(tls.key),
        "--ssl-ca-certfile",
        str(tls.ca),
    ]
    return [*command, "--enable-supernode-auth"] if tls.supernode_auth else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunController:
    """Keeps the Flower run in line with the task's status in the registry."""

    def __init__(
        self,
        api: FedopsClient,
        control_address: str,
        task_id: str,
        *,
        tls: FleetTls | None,
        interval: float = 1.0,
    ) -> None:
        from fedops_services.flserver.control import RunControl

        self._api = api
        self._control = RunControl(control_address, root_certificates=tls.ca.read_bytes() if tls else None)
        self._task_id = task_id
        self._interval = interval
        self._supernode_auth = tls is not None and tls.supernode_auth
        self._registered_keys: set[str] = set()
        self.active_run: int | None = None

    def _register_node_keys(self) -> None:
        """Admit the SuperNodes of enrolled clients, and no others (SuperNode auth)."""
        for client in self._api.registry.list_clients(self._task_id).data:
            key = client.node_public_key
            if key and key not in self._registered_keys:
                self._control.register_node(key.encode(), client.name)
                self._registered_keys.add(key)
                logger.info("admitted the SuperNode of client %s", client.name)

    def step(self) -> None:
        if self._supernode_auth:
            self._register_node_keys()
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
        tls = FleetTls.from_env()
        command = superlink_command(port=internal_port, data_dir=self.data_dir, tls=tls)
        superlink = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        stop = threading.Event()
        api = FedopsClient(self.api_url, self.token)
        controller = RunController(api, f"127.0.0.1:{internal_port}", self.task_id, tls=tls)
        thread = threading.Thread(target=controller.loop, args=(stop,), name="run-controller", daemon=True)
        thread.start()
        try:
            scheme = "https" if tls else "http"
            uvicorn.run(
                fleet_proxy(f"{scheme}://127.0.0.1:{internal_port}", ca=tls.ca if tls else None),
                host=self.host, port=self.port, log_level="warning", access_log=False,
                ssl_certfile=str(tls.cert) if tls else None, ssl_keyfile=str(tls.key) if tls else None,
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
