"""What `fedops up` leaves on this machine, and what the CLI sends past it.

A real `fedops up` on a fresh data dir (SQLite, generated admin token); the real `fedops`
CLI; a real listening socket standing in for an HTTP proxy. All traffic stays on loopback.
"""

from __future__ import annotations

import os
import socketserver
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serving import serving
from tests.support.stack import FedopsStack
from tooling.local_federation import kill_supervisors

pytestmark = pytest.mark.slow


class FakeProxy(socketserver.ThreadingTCPServer):
    """Records every connection and what arrived on it, then hangs up without answering."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: FakeProxy

    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            data = self.request.recv(65536)
        except OSError:
            data = b""
        self.server.received.append(data)


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    with serving(FakeProxy()) as server:
        yield server


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedopsStack]:
    root = tmp_path_factory.mktemp("exposure")
    stack = FedopsStack(root / "data", env={})  # data/ does not exist yet: `fedops up` makes it
    with pytest.MonkeyPatch.context() as patch:  # the embedded default: SQLite, a generated token
        patch.delenv("FEDOPS_DATABASE_URL", raising=False)
        patch.delenv("FEDOPS_ADMIN_TOKEN", raising=False)
        stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        kill_supervisors(root / "data" / "servers")


def test_a_fresh_data_dir_and_its_database_are_the_owners_alone(embedded: FedopsStack) -> None:
    modes = {
        name: stat.S_IMODE((embedded.data_dir / name).stat().st_mode)
        for name in (".", "fedops.db", "admin-token")
    }

    assert modes == {".": 0o700, "fedops.db": 0o600, "admin-token": 0o600}, {
        k: oct(v) for k, v in modes.items()
    }
    for journal in embedded.data_dir.glob("fedops.db-*"):  # SQLite copies the database's mode
        assert stat.S_IMODE(journal.stat().st_mode) & 0o077 == 0, journal


def test_the_cli_talks_to_loopback_directly_whatever_the_proxy_settings(
    embedded: FedopsStack, proxy: FakeProxy
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_") and "proxy" not in k.lower()}
    env |= {"FEDOPS_URL": embedded.url, "FEDOPS_DATA_DIR": str(embedded.data_dir)}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy.url

    result = subprocess.run(
        [str(Path(sys.executable).with_name("fedops")), "task", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proxy.received == []  # not a connection, let alone the admin token
    assert result.returncode == 0, result.stdout + result.stderr
