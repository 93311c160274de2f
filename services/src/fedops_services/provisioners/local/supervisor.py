"""Keeps one task's FL server process running: the local stand-in for a kubelet.

Started detached by the local provisioner (``python -m ...supervisor TASK_DIR``), so it
outlives registry restarts. It runs the command of ``deployment.json``, restarts it
when it exits with exponential backoff, writes its output to rotated log files, and
reports what it does in ``status.json``. SIGTERM stops the server's whole process group,
then the supervisor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from fedops.durable.files import atomic_write
from fedops_services.provisioners.environment import (
    inherited_environment,
    secret_environment,
    server_environment,
)
from fedops_services.provisioners.local import layout

__all__ = ["backoff_seconds", "main"]

MAX_BACKOFF_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0  # a run this long resets the backoff, as kubelet does
STOP_GRACE_SECONDS = 10.0
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
LAST_LINE_CHARS = 300  # of the server's last output line, kept for the status reason
PUMP_DRAIN_SECONDS = 2.0


def backoff_seconds(consecutive_failures: int) -> float:
    """1 s, 2 s, 4 s ... capped at 30 s."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, consecutive_failures - 1))


class _Supervisor:
    def __init__(self, task_dir: Path) -> None:
        self.task_dir = task_dir
        self.deployment: dict[str, Any] = json.loads(layout.deployment_file(task_dir).read_text())
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.state: dict[str, Any] = {"supervisor_pid": os.getpid(), "restarts": 0}
        self.last_line = ""  # the server's newest non-empty output line: why it exited, usually
        self.pump: threading.Thread | None = None
        self.log = self._make_log()

    def _make_log(self) -> logging.Logger:
        logs = layout.log_file(self.task_dir)
        logs.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            logs, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger = logging.getLogger(f"fedops.server.{self.task_dir.name}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        return logger

    def _write_state(self, **changes: Any) -> None:
        self.state.update(changes, updated_at=time.time())
        atomic_write(layout.status_file(self.task_dir), json.dumps(self.state).encode())

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.log.info(line)
            if line.strip():
                self.last_line = line.strip()[:LAST_LINE_CHARS]

    def _start_child(self) -> subprocess.Popen[bytes]:
        # Allow-listed, never the registry's environment (which holds the admin token and
        # the database URL): SuperLink and the ServerApp inherit whatever the server has.
        env = {
            **inherited_environment(os.environ),
            **server_environment(self.deployment["env"]),
            **secret_environment(self.deployment["secret_env"]),
        }
        data_dir = layout.data_dir(self.task_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        child = subprocess.Popen(
            self.deployment["command"],
            cwd=data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it stops what it started
        )
        assert child.stdout is not None
        self.last_line = ""
        self.pump = threading.Thread(target=self._pump, args=(child.stdout,), daemon=True)
        self.pump.start()
        return child

    def stop(self, *_: object) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            _signal_group(child.pid, signal.SIGTERM)

    def run(self) -> int:
        failures = 0
        while not self.stopping.is_set():
            self.log.info("[supervisor] starting: %s", " ".join(self.deployment["command"]))
            started = time.monotonic()
            self.child = self._start_child()
            self._write_state(state="running", child_pid=self.child.pid, started_at=time.time())
            code = self._wait_child()
            if self.pump is not None:  # its last words are still in the pipe; bounded: a
                self.pump.join(timeout=PUMP_DRAIN_SECONDS)  # grandchild may hold the pipe open
            if self.stopping.is_set():
                break
            failures = 1 if time.monotonic() - started >= HEALTHY_RUN_SECONDS else failures + 1
            self.restarts += 1
            delay = backoff_seconds(failures)
            self.log.info("[supervisor] server exited with %s; restarting in %.0f s", code, delay)
            self._write_state(
                state="backoff",
                child_pid=None,
                last_exit_code=code,
                last_line=self.last_line,
                restarts=self.restarts,
                next_start_at=time.time() + delay,
            )
            self.stopping.wait(delay)
        self._write_state(state="stopped", child_pid=None)
        self.log.info("[supervisor] stopped")
        return 0

    def _wait_child(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if self.stopping.is_set():
                    return self._terminate_child()

    def _terminate_child(self) -> int:
        assert self.child is not None
        try:
            return self.child.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(self.child.pid, signal.SIGKILL)
            return self.child.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m fedops_services.provisioners.local.supervisor TASK_DIR", file=sys.stderr)
        return 2
    supervisor = _Supervisor(Path(args[0]))
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    raise SystemExit(main())
