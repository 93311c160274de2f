"""fedops-server finds Flower without PATH, exits when its SuperLink dies, and never leaves
a process behind, however it is killed (issue 8: servers heal; no orphans).

Real ``fedops-server`` processes with a real SuperLink, SuperExec and ServerApp. The
registry is not needed for this: the run controller only logs that it cannot reach it.
Every process of a server is found by its environment (the server's data dir), so the
ones Flower starts in sessions of their own are found too.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedops.ports import free_port
from fedops_services.flserver.runtime import EXIT_CHILD_FAILED, EXIT_REASON_FILE
from tests.e2e.conftest import mnist_task, run_task, start_federation
from tests.support.processes import ManagedProcess, pid_running, processes_with, wait_until
from tooling.local_federation import LocalFederation

pytestmark = pytest.mark.slow

_NO_VENV_PATH = "/usr/local/bin:/usr/bin:/bin"  # as after `fedops up` started by its full path

_SLEEPY_SERVERAPP = """\
import time
from flwr.serverapp import ServerApp

app = ServerApp()


@app.main()
def main(grid, context):
    time.sleep(600)  # a ServerApp in the middle of a long round
"""


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        env = {
            "PATH": _NO_VENV_PATH,
            "FEDOPS_TASK_ID": "0" * 32,
            "FEDOPS_API_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens
            "FEDOPS_SERVER_TOKEN": "fedops_srv_test",
            "FLWR_TELEMETRY_ENABLED": "0",
        }
        command = [sys.executable, "-m", "fedops_services.flserver", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]  # fmt: skip
        self.process = ManagedProcess(command, log_path=tmp_path / "server.log", env=env)
        self.marker = f"FEDOPS_SERVER_DATA_DIR={self.data_dir}\0".encode()

    def family(self) -> set[int]:
        """Every live process carrying this server's environment, fedops-server excluded."""
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.process.pid:
                try:
                    environ = (entry / "environ").read_bytes()
                except OSError:
                    continue
                if self.marker in environ and pid_running(int(entry.name)):
                    found.add(int(entry.name))
        return found

    def named(self, name: bytes) -> set[int]:
        return self.family() & processes_with(name)

    def wait_ready(self) -> None:
        self.process.wait_http(f"http://127.0.0.1:{self.port}/health", timeout=180)  # through the proxy
        wait_until(lambda: bool(self.named(b"flower-superexec")), timeout=120, what="Flower's SuperExec")

    def start_sleepy_run(self) -> None:
        """Submit a run straight to the SuperLink's Control API (on its loopback port)."""
        from flwr.cli.build import build_fab_from_files

        from fedops_services.flserver.control import RunControl

        (superlink,) = self.named(b"flower-superlink")
        arguments = Path(f"/proc/{superlink}/cmdline").read_bytes().split(b"\0")
        port = int(arguments[arguments.index(b"--port") + 1])
        pyproject = (
            '[project]\nname = "sleepy"\nversion = "1.0.0"\ndependencies = []\n'
            '[tool.flwr.app]\npublisher = "fedops"\n'
            '[tool.flwr.app.components]\nserverapp = "sleepy_app:app"\nclientapp = "sleepy_app:app"\n'
        )
        files = {"pyproject.toml": pyproject.encode(), "sleepy_app.py": _SLEEPY_SERVERAPP.encode()}
        content, _ = build_fab_from_files(files)
        control = RunControl(f"127.0.0.1:{port}")
        try:
            control.submit(content, hashlib.sha256(content).hexdigest(), {})
        finally:
            control.close()
        wait_until(lambda: bool(self.named(b"flwr-serverapp")), timeout=180, what="the ServerApp")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.process.stop()
        for pid in running.family():  # only if the test failed: never leave them running
            os.kill(pid, signal.SIGKILL)


def test_a_server_without_flower_on_path_exits_when_its_superlink_dies(server: Server) -> None:
    server.wait_ready()  # Flower's commands found without PATH: SuperLink and SuperExec run
    family = server.family()
    (superlink,) = server.named(b"flower-superlink")

    os.kill(superlink, signal.SIGKILL)

    # Flower's own tie between SuperExec and SuperLink (a poll of os.kill(pid, 0)) takes
    # an unreaped SuperLink for alive: the SuperExec must end all the same.
    wait_until(lambda: not (family & server.family()), timeout=15, what="SuperLink's SuperExec to end")
    assert server.process.process.wait(timeout=60) == EXIT_CHILD_FAILED
    reason = "SuperLink exited unexpectedly (killed by SIGKILL)"
    assert reason in server.process.output()
    assert (server.data_dir / EXIT_REASON_FILE).read_text() == reason


def test_a_server_exits_when_flowers_superexec_dies(server: Server) -> None:
    server.wait_ready()
    (superexec,) = server.named(b"flower-superexec")

    os.kill(superexec, signal.SIGKILL)

    assert server.process.process.wait(timeout=60) == EXIT_CHILD_FAILED
    assert "SuperExec (flower-superexec) exited" in (server.data_dir / EXIT_REASON_FILE).read_text()
    wait_until(lambda: not server.family(), timeout=15, what="the server's processes to end")


@pytest.mark.parametrize("moment", ["starting", "ready", "in a run"])
def test_a_sigkilled_server_leaves_no_process_behind(server: Server, moment: str) -> None:
    if moment == "starting":
        wait_until(lambda: bool(server.named(b"flower-superlink")), timeout=120, what="SuperLink")
    else:
        server.wait_ready()
    if moment == "in a run":
        server.start_sleepy_run()  # SuperLink -> SuperExec (own session) -> flwr-serverapp
    family = server.family()

    server.process.kill()  # SIGKILL: fedops-server cleans up nothing itself

    def all_gone() -> bool:
        return not server.family() and not any(pid_running(pid) for pid in family)

    wait_until(all_gone, timeout=15, what=f"no descendant left of {sorted(family)}")


def test_a_federation_started_without_its_bin_on_path_trains(tmp_path: Path) -> None:
    federation: LocalFederation = start_federation(tmp_path, PATH=_NO_VENV_PATH)
    try:
        spec = mnist_task("no-path", rounds=1, xai={"enabled": False})
        task, final = run_task(federation, spec)
        assert final.status == "finished", final.status_reason
        assert [r.round for r in federation.api.monitoring.rounds(task.id).data] == [1]
    finally:
        federation.stop()


def test_a_server_whose_superlink_dies_heals_and_its_status_says_why(tmp_path: Path) -> None:
    federation: LocalFederation = start_federation(tmp_path)
    try:
        task = federation.create_task(mnist_task("heals", rounds=1, xai={"enabled": False}))
        federation.provision(task.id)
        superlinks = processes_with(b"flower-superlink", f"/{task.id}/".encode())
        assert len(superlinks) == 1, superlinks

        os.kill(superlinks.pop(), signal.SIGKILL)

        why = "SuperLink exited unexpectedly (killed by SIGKILL)"
        expected = f"exited with code {EXIT_CHILD_FAILED}: {why}"
        wait_until(
            lambda: expected in federation.api.registry.server_status(task.id).reason,
            timeout=60,
            interval=0.05,
            what="the reason in the server's status",
        )
        wait_until(
            lambda: federation.api.registry.server_status(task.id).ready_replicas == 1,
            timeout=120,
            what="the restarted server to be ready",
        )
        assert any(why in line for line in federation.api.registry.server_logs(task.id, tail=200).lines)
    finally:
        federation.stop()
