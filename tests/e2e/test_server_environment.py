"""No process of a running FL server sees the registry's credentials (issue 8, defect 2).

The registry runs with ``FEDOPS_ADMIN_TOKEN`` and ``FEDOPS_DATABASE_URL`` in its
environment, as a production install does. Every process the local provisioner starts
for a task (the supervisor, fedops-server, SuperLink, SuperExec, the ServerApp of a
started run) is read from ``/proc/<pid>/environ``: neither the names nor the values.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ADMIN_TOKEN
from tests.e2e.conftest import mnist_task
from tooling.local_federation import LocalFederation, wait_for

# What must have been found (and read) for the test to mean anything: every kind of
# process an FL server runs while a run waits for its clients.
_EXPECTED = (b"fedops_services.flserver", b"flower-superlink", b"flower-superexec", b"flwr-serverapp")


def _children() -> dict[int, list[int]]:
    """Every live process's children, from one read of /proc (ppid is field 4 of stat)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> dict[int, bytes]:
    """``root`` and everything below it, with their command lines."""
    tree, found, todo = _children(), {}, [root]
    while todo:
        pid = todo.pop()
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        todo.extend(tree.get(pid, []))
    return found


def _complete_tree(supervisor: int) -> dict[int, bytes] | None:
    processes = _descendants(supervisor)
    seen = b"\n".join(processes.values())
    return processes if all(marker in seen for marker in _EXPECTED) else None


def test_no_fl_server_process_sees_the_admin_token_or_the_database_url(
    tmp_path: Path, postgres_database_url: str
) -> None:
    federation = LocalFederation(
        tmp_path / "federation",
        admin_token=ADMIN_TOKEN,
        env={"FEDOPS_DATABASE_URL": postgres_database_url, "FEDOPS_ROUND_TIMEOUT_SECONDS": "30"},
    )
    try:
        federation.start_api()
        task = federation.create_task(mnist_task("environment-check"))
        federation.provision(task.id)
        federation.api.registry.start_run(task.id)  # no clients: the ServerApp waits for them
        pid_file = tmp_path / "federation" / "data" / "servers" / task.id / "supervisor.pid.json"
        supervisor = json.loads(pid_file.read_text())["pid"]
        processes = wait_for(lambda: _complete_tree(supervisor), 120, "the ServerApp under the FL server")

        forbidden = (
            b"FEDOPS_ADMIN_TOKEN",
            b"FEDOPS_DATABASE_URL",
            ADMIN_TOKEN.encode(),
            postgres_database_url.encode(),
        )
        read = {}
        for pid, cmdline in processes.items():
            try:
                read[pid] = (cmdline, Path(f"/proc/{pid}/environ").read_bytes())
            except OSError:
                continue  # a short-lived helper that ended meanwhile
        leaks = {
            cmdline.replace(b"\0", b" ")[:120]: [word for word in forbidden if word in environ]
            for cmdline, environ in read.values()
        }
        assert {command: words for command, words in leaks.items() if words} == {}
        # The server still got what it needs: its own task and credential.
        server = next(environ for cmdline, environ in read.values() if b"fedops_services.flserver" in cmdline)
        assert f"FEDOPS_TASK_ID={task.id}".encode() in server.split(b"\0")
        assert b"FEDOPS_SERVER_TOKEN=fedops_srv_" in server
    finally:
        federation.stop()
