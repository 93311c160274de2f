"""What edge machines can reach, TLS on the fleet port, and SuperNode authentication."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fedops_services.local_federation import LocalFederation
from tests.e2e.conftest import PROJECT, mnist_task, start_federation
from tests.support.certificates import make_loopback_certificates

pytestmark = pytest.mark.slow


def test_the_fleet_port_serves_only_fleet_and_health(federation: LocalFederation) -> None:
    task = federation.create_task(mnist_task("exposure"))
    federation.provision(task.id)
    fleet = federation.api.registry.server_status(task.id).fleet_address

    health = httpx.get(f"http://{fleet}/health", timeout=5)
    control = httpx.post(f"http://{fleet}/v1/control/list-runs", content=b"", timeout=5)
    runtime = httpx.post(f"http://{fleet}/v1/runtime/get-nodes", content=b"", timeout=5)
    docs = httpx.get(f"http://{fleet}/docs", timeout=5)

    assert health.status_code == 200
    assert (control.status_code, runtime.status_code, docs.status_code) == (404, 404, 404)


@pytest.fixture
def secure_federation(tmp_path: Path) -> Iterator[LocalFederation]:
    cert, key, ca = make_loopback_certificates(tmp_path / "tls")
    running = start_federation(
        tmp_path / "federation",
        FEDOPS_FLEET_TLS_CERT=str(cert), FEDOPS_FLEET_TLS_KEY=str(key), FEDOPS_FLEET_TLS_CA=str(ca),
        FEDOPS_SUPERNODE_AUTH="true",
    )  # fmt: skip
    try:
        yield running
    finally:
        running.stop()


def test_tls_and_supernode_authentication(secure_federation: LocalFederation, tmp_path: Path) -> None:
    federation = secure_federation
    task = federation.create_task(mnist_task("secure", rounds=1, xai={"enabled": False}))
    federation.provision(task.id)
    fleet = federation.api.registry.server_status(task.id).fleet_address
    assert fleet is not None
    ca = tmp_path / "tls" / "ca.pem"

    with pytest.raises(httpx.HTTPError):  # no plain HTTP on the fleet port
        httpx.get(f"http://{fleet}/health", timeout=5)
    assert httpx.get(f"https://{fleet}/health", verify=str(ca), timeout=5).status_code == 200

    stranger_key = tmp_path / "stranger_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-b", "384", "-N", "", "-f", str(stranger_key)], check=True
    )
    stranger = subprocess.run(
        [str(federation.bin / "flower-supernode"), "--superlink", fleet, "--root-certificates", str(ca),
         "--auth-supernode-private-key", str(stranger_key), "--max-retries", "1", "--max-wait-time", "20",
         "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False, env=federation.env,
    )  # fmt: skip
    assert stranger.returncode != 0  # a key nobody enrolled is refused

    federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    assert all(c.node_public_key for c in federation.api.registry.list_clients(task.id).data)
