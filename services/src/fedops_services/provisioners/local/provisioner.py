"""Runs each task's FL server as a supervised process on this machine (embedded default).

All state lives in files under ``servers_dir/<task_id>/``, never only in memory, so a
restarted registry finds what runs (re-attach) instead of starting it twice: the
supervisor's pid is recorded with the generation (hash) of the deployment it runs, and
is checked against ``/proc/<pid>/cmdline`` so a recycled pid is never mistaken for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fedops.durable.files import atomic_write
from fedops_services.config import render_server_command
from fedops_services.provisioners.base import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
    require_single_replica,
)
from fedops_services.provisioners.environment import (
    inherited_environment,
    secret_environment,
    server_environment,
)
from fedops_services.provisioners.local import layout

__all__ = ["LocalProvisioner"]

_SUPERVISOR_MODULE = "fedops_services.provisioners.local.supervisor"
_STOP_TIMEOUT_SECONDS = 20.0


class LocalProvisioner(Provisioner):
    name = "local"

    def __init__(
        self,
        servers_dir: Path,
        *,
        command_template: str,
        advertise_host: str = "127.0.0.1",
        bind_host: str = "127.0.0.1",
        health_path: str = "/health",
        health_ca: Path | None = None,
    ) -> None:
        self.servers_dir = servers_dir.resolve()
        self.command_template = command_template
        self.advertise_host = advertise_host
        self.bind_host = bind_host
        self.health_path = health_path
        # With TLS on the fleet port, health is checked over HTTPS against the fleet CA.
        self._tls = ssl.create_default_context(cafile=str(health_ca)) if health_ca else None
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # supervisors we spawned
        self.servers_dir.mkdir(parents=True, exist_ok=True)

    # --- Provisioner ---------------------------------------------------------------------

    def apply(self, deployment: ServerDeployment) -> None:
        require_single_replica(deployment)
        task_dir = self._task_dir(deployment.task_id)
        task_dir.mkdir(parents=True, exist_ok=True)
        layout.data_dir(task_dir).mkdir(exist_ok=True)
        with _locked(layout.lock_file(task_dir)):
            document = self._deployment_document(task_dir, deployment)
            generation = _generation(document)
            _write_private_json(layout.deployment_file(task_dir), {**document, "generation": generation})
            running = self._running_supervisor(task_dir)
            if deployment.replicas == 0:
                if running is not None:
                    self._stop_supervisor(task_dir, running)
                return
            if running is not None and running["generation"] == generation:
                return  # already what is wanted: re-attached, not restarted
            if running is not None:
                self._stop_supervisor(task_dir, running)
            self._start_supervisor(task_dir, generation)

    def observe(self, task_id: str) -> ObservedServer:
        task_dir = self._task_dir(task_id)
        deployment_path = layout.deployment_file(task_dir)
        if not deployment_path.exists():
            return ObservedServer(exists=False, reason="no server provisioned")
        document = json.loads(deployment_path.read_text())
        address = f"{self.advertise_host}:{document['port']}"
        volume = "Bound" if layout.data_dir(task_dir).is_dir() else "Lost"
        running = self._running_supervisor(task_dir)
        if running is None:
            reason = "paused (0 replicas)" if document["replicas"] == 0 else "server process is not running"
            return ObservedServer(exists=True, volume_phase=volume, fleet_address=address, reason=reason)
        status = _read_json(layout.status_file(task_dir)) or {}
        counted = status.get("restarts")
        restarts = counted if isinstance(counted, int) else None
        if status.get("state") == "backoff":
            wait = max(0.0, status.get("next_start_at", 0.0) - time.time())
            reason = f"{_last_exit(task_dir, status)}; restart {status.get('restarts')} in {wait:.0f} s"
            return ObservedServer(
                exists=True, volume_phase=volume, fleet_address=address, reason=reason, restarts=restarts
            )
        if status.get("state") != "running" or not _pid_alive(status.get("child_pid")):
            return ObservedServer(
                exists=True,
                replicas=1,
                volume_phase=volume,
                fleet_address=address,
                reason="starting",
                restarts=restarts,
            )
        healthy, detail = self._health(document["port"])
        ready = 1 if healthy else 0
        reason = "running; health check passing" if healthy else f"running; not ready yet ({detail})"
        if restarts:  # why it had to be restarted matters while it is not ready again
            reason += f"; restarted {restarts} time(s)"
            reason += "" if healthy else f", last: {_last_exit(task_dir, status)}"
        return ObservedServer(
            exists=True,
            replicas=1,
            ready_replicas=ready,
            available_replicas=ready,
            volume_phase=volume,
            fleet_address=address,
            reason=reason,
            restarts=restarts,
        )

    def logs(self, task_id: str, tail: int) -> list[str]:
        log = layout.log_file(self._task_dir(task_id))
        lines: deque[str] = deque(maxlen=tail)
        for path in (log.with_name(log.name + ".1"), log):  # the newest rotated file, then current
            if path.exists():
                with path.open(encoding="utf-8", errors="replace") as handle:
                    lines.extend(line.rstrip("\n") for line in handle)
        return list(lines)

    def delete(self, task_id: str) -> None:
        task_dir = self._task_dir(task_id)
        if not task_dir.exists():
            return
        with _locked(layout.lock_file(task_dir)):
            running = self._running_supervisor(task_dir)
            if running is not None:
                self._stop_supervisor(task_dir, running)
        shutil.rmtree(task_dir, ignore_errors=True)

    def managed_task_ids(self) -> set[str]:
        return {path.parent.name for path in self.servers_dir.glob("*/deployment.json")}

    def close(self) -> None:
        # Supervisors are detached on purpose; only forget the handles.
        for child in self._children.values():
            child.poll()
        self._children.clear()

    # --- internals -----------------------------------------------------------------------

    def _task_dir(self, task_id: str) -> Path:
        if not task_id.isalnum():  # ids are uuid hex; anything else must never become a path
            raise ProvisionerError(f"invalid task id {task_id!r}")
        return self.servers_dir / task_id

    def _deployment_document(self, task_dir: Path, deployment: ServerDeployment) -> dict[str, Any]:
        previous = _read_json(layout.deployment_file(task_dir)) or {}
        port = previous.get("port") or self._allocate_port()
        values = {
            "python": sys.executable,
            "port": str(port),
            "data_dir": str(layout.data_dir(task_dir)),
            "task_id": deployment.task_id,
            "task_name": deployment.task_name,
        }
        try:
            command = render_server_command(self.command_template, values)
        except ValueError as exc:  # settings validation refuses these at start-up already
            raise ProvisionerError(str(exc)) from None
        secret_env = secret_environment(
            (previous.get("secret_env") or {}) if deployment.secret_env is None else deployment.secret_env
        )
        if not secret_env:  # the file holding the token was lost: never start without one
            raise CredentialsMissingError(f"the server of task {deployment.task_id} has lost its token")
        return {
            "task_id": deployment.task_id,
            "task_name": deployment.task_name,
            "replicas": deployment.replicas,
            "resources": deployment.resources.model_dump(mode="json"),
            "port": port,
            "command": command,
            "env": server_environment({**deployment.env, "FEDOPS_FLEET_PORT": str(port)}),
            "secret_env": secret_env,
        }

    def _allocate_port(self) -> int:
        """A free loopback port that no other task has been given."""
        with _locked(self.servers_dir / ".ports.lock"):
            taken = {
                (_read_json(path) or {}).get("port") for path in self.servers_dir.glob("*/deployment.json")
            }
            for _ in range(100):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind((self.bind_host, 0))
                    port = int(probe.getsockname()[1])
                if port not in taken:
                    return port
        raise ProvisionerError("no free port found for the FL server")

    def _running_supervisor(self, task_dir: Path) -> dict[str, Any] | None:
        record = _read_json(layout.pid_file(task_dir))
        if record is None:
            return None
        pid = record.get("pid")
        if not isinstance(pid, int):
            return None
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]  # reaped
            return None
        if not _is_supervisor_of(pid, task_dir):
            return None
        return record

    def _start_supervisor(self, task_dir: Path, generation: str) -> None:
        layout.status_file(task_dir).unlink(missing_ok=True)
        stderr_path = task_dir / "supervisor.err"
        with stderr_path.open("ab") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-m", _SUPERVISOR_MODULE, str(task_dir)],
                env=inherited_environment(os.environ),  # never the registry's credentials
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # survives the registry: re-attached after a restart
                close_fds=True,
            )
        self._children[child.pid] = child
        _write_private_json(layout.pid_file(task_dir), {"pid": child.pid, "generation": generation})

    def _stop_supervisor(self, task_dir: Path, record: dict[str, Any]) -> None:
        pid = int(record["pid"])
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self._running_supervisor(task_dir) is not None:
            time.sleep(0.05)
        if self._running_supervisor(task_dir) is not None:
            status = _read_json(layout.status_file(task_dir)) or {}
            if isinstance(status.get("child_pid"), int):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(status["child_pid"], signal.SIGKILL)
            _signal(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)
        layout.pid_file(task_dir).unlink(missing_ok=True)

    def _health(self, port: int) -> tuple[bool, str]:
        connection = (
            http.client.HTTPSConnection(self.bind_host, port, timeout=1.0, context=self._tls)
            if self._tls is not None
            else http.client.HTTPConnection(self.bind_host, port, timeout=1.0)
        )
        try:
            connection.request("GET", self.health_path)
            status = connection.getresponse().status
        except OSError as exc:
            return False, f"health check: {exc.__class__.__name__}"
        finally:
            connection.close()
        return (200 <= status < 400), f"health check answered {status}"


def _last_exit(task_dir: Path, status: dict[str, Any]) -> str:
    """How the server process last ended and why: what fedops-server wrote to its volume's
    ``exit-reason`` as it exited (if written during that run), else its last output line."""
    text = f"the FL server process exited with code {status.get('last_exit_code')}"
    why = status.get("last_line") or ""
    written = layout.data_dir(task_dir) / "exit-reason"
    with contextlib.suppress(OSError):
        if written.stat().st_mtime >= float(status.get("started_at") or 0):
            why = written.read_text(errors="replace").strip()[:500] or why
    return f"{text}: {why}" if why else text


def _generation(document: dict[str, Any]) -> str:
    """Changes whenever what would run changes; replicas are not part of it."""
    relevant = {key: value for key, value in document.items() if key != "replicas"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _write_private_json(path: Path, value: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(value).encode(), mode=0o600)  # it holds the server token


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_supervisor_of(pid: int, task_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _SUPERVISOR_MODULE.encode() in cmdline and str(task_dir).encode() in cmdline


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
