"""The fleet proxy never lets a request through to Flower's Control API (issue 8, defect 1).

A real SuperLink on loopback, the real proxy in front of it, and requests written as raw
bytes on a socket: an HTTP client library would normalise the path itself and hide the
bug. The attack body is a valid StartRunRequest (the test proves it starts a run when
sent to the SuperLink directly), so "no run exists afterwards" means no attack arrived.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from fedops.ports import free_port
from fedops_services.flserver.proxy import MAX_BODY_BYTES, fleet_proxy
from tests.support.processes import ManagedProcess, wait_until

ATTACK_TARGETS = [
    "/v1/fleet/../control/start-run",
    "/v1/fleet/%2e%2e/control/start-run",
    "/v1/fleet/%2E%2e/control/start-run",
    "/v1/fleet/%2E%2E/control/start-run",
    "/v1/fleet/.%2e/control/start-run",
    "/v1/fleet/..%2Fcontrol%2Fstart-run",
    "/v1/fleet/..%2fcontrol/start-run",
    "/v1/fleet%2F..%2Fcontrol%2Fstart-run",
    "/v1/fleet/%2e%2e%2fcontrol%2fstart-run",
    "/v1/fleet/./../control/start-run",
    "/v1/fleet//../../v1/control/start-run",
    "/v1/fleet/get-run/../../control/start-run",
    "/v1/fleet/../../v1/control/start-run",
    "/v1/fleet/..\\control\\start-run",
    "/v1/fleet/%5c..%5ccontrol/start-run",
    "/v1/fleet/%252e%252e/control/start-run",
    "//v1/control/start-run",
    "/v1/control/start-run",
    "http://127.0.0.1/v1/fleet/../control/start-run",
    "/v1/fleet/../control/start-run?x=1",
    "/v1/fleet/%2e%2e/control/start-run#frag",
]


def _start_run_body() -> bytes:
    """A StartRunRequest the Control API accepts (a run of the fedops ServerApp)."""
    from flwr.common.serde import fab_to_proto, user_config_to_proto
    from flwr.proto.control_pb2 import StartRunRequest
    from flwr.supercore.fab import Fab

    from fedops_services.flserver.fab import build_fab

    content, digest = build_fab()
    request = StartRunRequest(
        fab=fab_to_proto(Fab(digest, content, {})), override_config=user_config_to_proto({}), federation=""
    )
    return bytes(request.SerializeToString())


def raw_request(port: int, method: str, target: str, body: bytes = b"", *, length: int | None = None) -> int:
    """Send one request exactly as written; the status code (0 if the connection was dropped)."""
    declared = len(body) if length is None else length
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/protobuf\r\nContent-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode("latin-1") + body)
        reply = b""
        while b"\r\n" not in reply:
            chunk = connection.recv(4096)
            if not chunk:
                return 0
            reply += chunk
    parts = reply.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


@dataclass
class Stack:
    superlink_port: int
    proxy_port: int

    def run_count(self) -> int:
        from flwr.proto.control_pb2 import ListRunsRequest
        from flwr.supercore.control.control_http_client import ControlHttpClient

        client = ControlHttpClient.from_server_address(
            server_address=f"127.0.0.1:{self.superlink_port}",
            insecure=True,
            root_certificates=None,
            interceptors=[],
        )
        try:
            return len(client.ListRuns(ListRunsRequest()).run_dict)
        finally:
            client.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    superlink_port, proxy_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    command = [
        str(bin_dir / "flower-superlink"), "--insecure", "--disable-runtime-dependency-installation",
        "--isolation", "process",  # runs stay pending: nothing is executed, only counted
        "--database", ":flwr-in-memory:", "--host", "127.0.0.1", "--port", str(superlink_port),
    ]  # fmt: skip
    superlink = ManagedProcess(
        command,
        log_path=tmp_path / "superlink.log",
        env={"FLWR_TELEMETRY_ENABLED": "0", "FLWR_HOME": str(tmp_path / "flwr-home")},
    )
    proxy = fleet_proxy(f"http://127.0.0.1:{superlink_port}")
    config = uvicorn.Config(proxy, host="127.0.0.1", port=proxy_port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fleet-proxy", daemon=True)
    thread.start()
    try:
        superlink.wait_http(f"http://127.0.0.1:{superlink_port}/health", timeout=120)
        wait_until(lambda: server.started, timeout=30, what="the fleet proxy")
        yield Stack(superlink_port, proxy_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        superlink.stop()


def test_no_path_trick_reaches_the_control_api(stack: Stack) -> None:
    body = _start_run_body()
    answers = {target: raw_request(stack.proxy_port, "POST", target, body) for target in ATTACK_TARGETS}

    assert stack.run_count() == 0, f"the Control API started a run through the proxy: {answers}"
    assert all(status in (0, 400, 404) for status in answers.values()), answers
    # The payload is a real attack: sent to the SuperLink itself, it starts a run.
    assert raw_request(stack.superlink_port, "POST", "/v1/control/start-run", body) == 200
    assert stack.run_count() == 1


def test_fleet_routes_pass_with_their_methods_only(stack: Stack) -> None:
    from flwr.proto.run_pb2 import GetRunRequest

    assert raw_request(stack.proxy_port, "GET", "/health") == 200
    assert raw_request(stack.proxy_port, "HEAD", "/health") == 200
    # Answered by Flower (no such run), not refused by the proxy.
    get_run = GetRunRequest(run_id=12345).SerializeToString()
    assert raw_request(stack.proxy_port, "POST", "/v1/fleet/get-run", get_run) not in (0, 404, 405)
    assert raw_request(stack.proxy_port, "GET", "/v1/fleet/get-run") == 405
    assert raw_request(stack.proxy_port, "DELETE", "/health") == 405
    assert raw_request(stack.proxy_port, "POST", "/v1/fleet/GET-RUN", get_run) == 404
    assert raw_request(stack.proxy_port, "POST", "/v1/fleet/get-run/", get_run) == 404
    assert raw_request(stack.proxy_port, "GET", "/docs") == 404
    assert raw_request(stack.proxy_port, "POST", "/v1/control/list-runs") == 404
    # A body far beyond any fleet message is refused before it is read.
    assert raw_request(stack.proxy_port, "POST", "/v1/fleet/push-object", length=MAX_BODY_BYTES + 1) == 413
