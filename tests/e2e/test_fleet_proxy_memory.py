"""The fleet port cannot be made to hold request bodies in memory (review finding F1).

A real SuperLink on loopback and the real proxy in its own process, configured as
fedops-server configures it (``server_config``), so its memory is read from
/proc/<pid>/status. Requests are written as raw bytes on sockets: an HTTP client would
send the body whatever the server answered.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fedops.ports import free_port
from fedops_services.flserver.fleet_limits import IN_FLIGHT_BYTES, MAX_BODY_BYTES, SMALL_BODY_BYTES
from tests.support.processes import ManagedProcess

_MIB = 1024 * 1024
_PROXY = """
import sys, uvicorn
from fedops_services.flserver.proxy import fleet_proxy, server_config
upstream, port = sys.argv[1], int(sys.argv[2])
uvicorn.Server(server_config(fleet_proxy(upstream), host="127.0.0.1", port=port)).run()
"""


@dataclass
class Proxy:
    port: int
    pid: int

    def status_kib(self, field: str) -> int:
        """A figure of /proc/<pid>/status, e.g. VmRSS or VmHWM (the peak RSS), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for process {self.pid}")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    superlink_port, proxy_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    superlink = ManagedProcess(
        [
            str(bin_dir / "flower-superlink"), "--insecure", "--disable-runtime-dependency-installation",
            "--isolation", "process", "--database", ":flwr-in-memory:",
            "--host", "127.0.0.1", "--port", str(superlink_port),
        ],
        log_path=tmp_path / "superlink.log",
        env={"FLWR_TELEMETRY_ENABLED": "0", "FLWR_HOME": str(tmp_path / "flwr-home")},
    )  # fmt: skip
    server = ManagedProcess(
        [sys.executable, "-c", _PROXY, f"http://127.0.0.1:{superlink_port}", str(proxy_port)],
        log_path=tmp_path / "proxy.log",
    )
    try:
        superlink.wait_http(f"http://127.0.0.1:{superlink_port}/health", timeout=120)
        server.wait_http(f"http://127.0.0.1:{proxy_port}/health", timeout=60)
        yield Proxy(proxy_port, server.pid)
    finally:
        server.stop()
        superlink.stop()


def _head(port: int, path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/protobuf\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _status(connection: socket.socket) -> int:
    """The status code of the reply on ``connection`` (0 if it was closed without one)."""
    reply = b""
    while b"\r\n" not in reply:
        chunk = connection.recv(4096)
        if not chunk:
            return 0
        reply += chunk
    parts = reply.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/v1/fleet/push-object", MAX_BODY_BYTES), ("/v1/fleet/send-node-heartbeat", SMALL_BODY_BYTES)],
)
def test_a_body_over_the_route_limit_is_refused_before_it_is_sent(
    proxy: Proxy, path: str, limit: int
) -> None:
    """The 413 arrives while not one byte of the body has been sent: nothing was waited for or held."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as connection:
        connection.sendall(_head(proxy.port, path, limit + 1))
        assert _status(connection) == 413


def test_a_chunked_body_is_cut_off_at_the_route_limit(proxy: Proxy) -> None:
    """Without a Content-Length the limit is counted as the body streams through: 413."""
    chunk = b"\0" * (256 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    head = (
        f"POST /v1/fleet/send-node-heartbeat HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\n"
        "Content-Type: application/protobuf\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as connection:
        connection.sendall(head)
        # Twice the limit, then the reply (loopback socket buffers may absorb all of it).
        sent = 0
        try:
            while sent < 2 * SMALL_BODY_BYTES:
                connection.sendall(frame)
                sent += len(chunk)
        except OSError:  # the proxy answered and closed while we were still sending
            pass
        try:
            status = _status(connection)
        except ConnectionResetError:  # closed with our unread bytes in its buffer
            status = 0
    assert status in (413, 0)
    assert status == 413 or sent < 2 * SMALL_BODY_BYTES


def test_concurrent_large_bodies_do_not_grow_the_proxy(proxy: Proxy) -> None:
    """Many requests with bodies of the largest allowed size at once, plus the reviewer's
    60 MiB ones: the proxy's peak RSS grows by a bounded number of bytes, not by the bodies."""
    size = MAX_BODY_BYTES - 1024
    count = 2 * IN_FLIGHT_BYTES // size  # twice what may be in flight: some wait for budget
    body = b"\0" * size

    def push(length: int, payload: bytes, statuses: list[int]) -> None:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=120) as connection:
            connection.sendall(_head(proxy.port, "/v1/fleet/push-object", length))
            with contextlib.suppress(OSError):  # refused and closed before the body went out
                connection.sendall(payload)
            try:
                statuses.append(_status(connection))
            except ConnectionResetError:
                statuses.append(0)

    warm: list[int] = []
    push(size, body, warm)  # the first request imports and allocates what every later one reuses
    baseline = proxy.status_kib("VmHWM")

    statuses: list[int] = []
    huge: list[int] = []
    threads = [threading.Thread(target=push, args=(size, body, statuses)) for _ in range(count)]
    threads += [threading.Thread(target=push, args=(60 * _MIB, b"\0" * _MIB, huge)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    growth = (proxy.status_kib("VmHWM") - baseline) * 1024

    # Each body reached the SuperLink (which rejects zeros as a protobuf: 4xx), none was
    # refused for size or lost; the 60 MiB ones were refused by their Content-Length.
    assert len(statuses) == count and all(400 <= status < 500 and status != 413 for status in statuses), (
        statuses
    )
    assert huge == [413] * 6, huge
    # Buffered, the bodies alone would be count * size (about 100 MiB).
    assert growth < 16 * _MIB, f"proxy peak RSS grew by {growth / _MIB:.1f} MiB for {count} bodies"
