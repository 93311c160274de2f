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
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fedops.api import ApiError, FedopsClient, all_pages
from fedops.api.schemas import RunResult
from fedops.child_processes import (
    become_subreaper,
    descendants,
    die_with_parent,
    kill_descendants,
    write_parent_death_shims,
)
from fedops.durable.files import atomic_write
from fedops.ports import free_port

__all__ = [
    "EXIT_REASON_FILE",
    "ChildWatcher",
    "MissingExecutableError",
    "RunController",
    "ServerRuntime",
    "flower_bin_dir",
    "superlink_command",
]

logger = logging.getLogger("fedops.server")

FLOWER_COMMANDS = ("flower-superlink", "flower-superexec", "flwr-serverapp")
# Started by Flower itself (SuperLink -> SuperExec -> ServerApp), through launchers that
# tie each to its parent's life (fedops.child_processes).
_FLOWER_SPAWNED = ("flower-superexec", "flwr-serverapp")
EXIT_REASON_FILE = "exit-reason"  # in the data dir: why the last run of fedops-server ended
EXIT_CHILD_FAILED = 3  # SuperLink or its SuperExec ended on its own: restart the whole server
EXIT_NOT_INSTALLED = 4  # Flower's commands are missing: a restart will not help, but says why


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


class MissingExecutableError(RuntimeError):
    """A Flower command is not installed next to this interpreter."""


def flower_bin_dir() -> Path:
    """Where this interpreter's console scripts are (Flower's commands among them).

    Never PATH: ``fedops up`` started by full path has no virtual environment on PATH,
    and an unrelated ``flower-superlink`` there would be a different Flower. The scripts
    directory of the running Python (its ``bin``, next to ``sys.executable`` in a virtual
    environment) is where pip put them when flwr was installed for it.
    """
    candidates = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    for directory in candidates:
        if all((directory / name).is_file() for name in FLOWER_COMMANDS):
            return directory
    searched = ", ".join(dict.fromkeys(str(directory) for directory in candidates))
    raise MissingExecutableError(
        f"{' and '.join(FLOWER_COMMANDS)} not found in {searched} (is flwr installed?)"
    )


def superlink_command(
    *, port: int, data_dir: Path, tls: FleetTls | None = None, bin_dir: Path | None = None
) -> list[str]:
    executable = (bin_dir or flower_bin_dir()) / "flower-superlink"
    command = [
        str(executable),
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
        self._refused_keys: set[str] = set()
        self.active_run: int | None = None

    def _reconcile_node_keys(self) -> None:
        """Admit the SuperNodes of enrolled clients, and no others (SuperNode auth).

        The SuperLink's list is the truth (its state survives restarts, ours does not):
        a key no enrolled client holds any more (re-enrolled with a new key, by itself or
        by the admin) is unregistered, so the SuperNode holding it is refused from its next
        request on. Flower never registers an unregistered key again, so a client that
        comes back with a revoked key must enrol with a new one.
        """
        clients = all_pages(
            lambda limit, offset: self._api.registry.list_clients(self._task_id, limit=limit, offset=offset)
        )
        wanted = {client.node_public_key: client.name for client in clients if client.node_public_key}
        known = {node.public_key: node for node in self._control.nodes()}
        for key, name in wanted.items():
            node = known.get(key)
            if node is None:
                self._control.register_node(key.encode(), name)
                logger.info("admitted the SuperNode of client %s", name)
            elif node.revoked and key not in self._refused_keys:
                self._refused_keys.add(key)  # said once: the registry keeps listing it every pass
                logger.warning("client %s presents a revoked SuperNode key: it must enrol again", name)
        for key, node in known.items():
            if not node.revoked and key not in wanted:
                self._control.unregister_node(node.node_id)
                logger.info("revoked SuperNode %d: its key is no longer any enrolled client's", node.node_id)

    def step(self) -> None:
        if self._supernode_auth:
            self._reconcile_node_keys()
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


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class ChildWatcher:
    """Notices when SuperLink, or the SuperExec it started, ends while the server runs.

    Either one gone means no run can start again (SuperLink does not restart its
    SuperExec), while the fleet proxy would go on answering: ``on_failure`` gets the
    reason, once, so the server can exit and be restarted by its supervisor. SuperLink
    starts its SuperExec before it listens, so from then on one must be running (a poll
    that only compared with an earlier sighting would miss one that died in between).
    """

    def __init__(
        self,
        superlink: subprocess.Popen[bytes],
        port: int,
        on_failure: Callable[[str], None],
        *,
        interval: float = 0.5,
    ) -> None:
        self._superlink = superlink
        self._port = port
        self._on_failure = on_failure
        self._interval = interval
        self._listening = False

    def _superlink_listens(self) -> bool:
        if not self._listening:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self._port), timeout=1):
                self._listening = True
        return self._listening

    def check(self) -> str | None:
        """Why the server cannot go on, or None."""
        code = self._superlink.poll()
        if code is not None:
            return f"SuperLink exited unexpectedly ({_describe_exit(code)})"
        if not self._superlink_listens():
            return None
        if not any(b"flower-superexec" in _cmdline(pid) for pid in descendants(self._superlink.pid)):
            if self._superlink.poll() is not None:  # SuperLink died meanwhile, taking it along
                return self.check()
            return "Flower's SuperExec (flower-superexec) exited: no run could start"
        return None

    def loop(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            reason = self.check()
            if reason is not None:
                self._on_failure(reason)
                return


def _record_exit_reason(data_dir: Path, reason: str) -> None:
    """Say why the server stops where its supervisor looks: the log (stderr), the data dir
    (the local provisioner's status) and Kubernetes' termination message."""
    logger.error("fedops-server exits: %s", reason)
    with contextlib.suppress(OSError):
        atomic_write(data_dir / EXIT_REASON_FILE, reason.encode())
    termination_log = Path("/dev/termination-log")
    if termination_log.is_file():
        with contextlib.suppress(OSError):
            termination_log.write_text(reason)


def _stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ServerRuntime:
    task_id: str
    api_url: str
    token: str
    data_dir: Path
    host: str
    port: int

    def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / EXIT_REASON_FILE).unlink(missing_ok=True)
        # Flower's descendants (SuperExec, ServerApps) come back to us when SuperLink dies,
        # so they are ended with this server instead of living on under init.
        become_subreaper()
        try:
            bin_dir = flower_bin_dir()
        except MissingExecutableError as exc:
            _record_exit_reason(self.data_dir, str(exc))
            return EXIT_NOT_INSTALLED
        try:
            failure = self._serve(bin_dir)
        finally:
            left = kill_descendants(timeout=10)
            if left:
                logger.error("descendants still alive after SIGKILL: %s", sorted(left))
        if failure is not None:
            _record_exit_reason(self.data_dir, failure)
            return EXIT_CHILD_FAILED
        return 0

    def _serve(self, bin_dir: Path) -> str | None:
        """Run SuperLink, the run controller and the fleet proxy until asked to stop (None)
        or until SuperLink or its SuperExec fails (the reason)."""
        import uvicorn

        from fedops_services.flserver.proxy import fleet_proxy, server_config

        internal_port = free_port()
        shims = write_parent_death_shims(
            self.data_dir / "bin", Path(sys.executable), {name: bin_dir / name for name in _FLOWER_SPAWNED}
        )
        env = {
            **os.environ,
            # Flower starts flower-superexec and flwr-serverapp by name: ours come first.
            # An empty entry would mean the working directory: never searched.
            "PATH": os.pathsep.join(
                [str(shims), str(bin_dir), *filter(None, os.environ.get("PATH", "").split(os.pathsep))]
            ),
            "FLWR_HOME": str(self.data_dir / "flwr-home"),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.05",
            "FEDOPS_SERVER_DATA_DIR": str(self.data_dir.resolve()),
        }
        tls = FleetTls.from_env()
        command = superlink_command(port=internal_port, data_dir=self.data_dir, tls=tls, bin_dir=bin_dir)
        # From the main thread, which lives as long as the server: the death signal is
        # tied to the forking thread.
        superlink = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        scheme = "https" if tls else "http"
        proxy = fleet_proxy(f"{scheme}://127.0.0.1:{internal_port}", ca=tls.ca if tls else None)
        config = server_config(
            proxy,
            host=self.host,
            port=self.port,
            cert=tls.cert if tls else None,
            key=tls.key if tls else None,
        )
        server = uvicorn.Server(config)
        failures: list[str] = []

        def failed(reason: str) -> None:
            failures.append(reason)
            server.should_exit = True  # the proxy stops; run() then exits non-zero

        stop = threading.Event()
        api = FedopsClient(self.api_url, self.token)
        controller = RunController(api, f"127.0.0.1:{internal_port}", self.task_id, tls=tls)
        threads = [
            threading.Thread(target=controller.loop, args=(stop,), name="run-controller", daemon=True),
            threading.Thread(
                target=ChildWatcher(superlink, internal_port, failed).loop,
                args=(stop,),
                name="watch",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            server.run()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            if controller.active_run is not None and superlink.poll() is None:
                with contextlib.suppress(Exception):
                    controller._control.stop(controller.active_run)
            controller.close()
            api.close()
            _stop_process(superlink, grace=15)
        return failures[0] if failures else None
