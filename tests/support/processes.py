"""Processes started by tests: tracked by PID, always killed, output kept for failures."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

__all__ = ["ManagedProcess", "pid_running", "processes_with", "wait_until"]


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = "condition"
) -> None:
    """Poll ``condition`` until true; a bounded loop that fails with ``what`` in the message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def pid_running(pid: int | None) -> bool:
    """True while ``pid`` is a live process (a zombie awaiting its reaper is not)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ManagedProcess:
    """A child process in its own process group; ``stop`` kills the group by PID."""

    def __init__(self, command: list[str], *, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.command = command
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, *, timeout: float = 60) -> None:
        def answers() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.command[0]} exited early:\n{self.output()[-3000:]}")
            try:
                return httpx.get(url, timeout=1).status_code < 500
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=timeout, what=url)


def processes_with(*markers: bytes) -> set[int]:
    """PIDs of live processes whose command line contains every one of ``markers``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline and all(marker in cmdline for marker in markers):
                found.add(int(entry.name))
    return found
