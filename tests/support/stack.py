"""`fedops up` as a real process on a free loopback port."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fedops.ports import free_port
from tests.support.processes import ManagedProcess
from tooling.local_federation import kill_supervisors

__all__ = ["FedopsStack", "running_stack"]


class FedopsStack:
    """Start, kill and restart the services the way an operator would run them."""

    def __init__(self, data_dir: Path, *, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = env
        self.process: ManagedProcess | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._starts += 1
        fedops = str(Path(sys.executable).with_name("fedops"))
        self.process = ManagedProcess(
            [
                fedops,
                "up",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            log_path=self.data_dir.parent / f"fedops-up-{self._starts}.log",
            env={
                **self.env,
                "FLWR_TELEMETRY_ENABLED": "0",
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            },
        )
        self.process.wait_http(f"{self.url}/readyz", timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@contextmanager
def running_stack(data_dir: Path, *, env: dict[str, str]) -> Iterator[FedopsStack]:
    """A started `fedops up`; afterwards it is stopped, and every FL server it supervised too."""
    stack = FedopsStack(data_dir, env=env)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        kill_supervisors(data_dir / "servers")
