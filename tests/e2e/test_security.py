"""What edge machines can reach, TLS on the fleet port, and SuperNode authentication."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fedops.api.schemas import EnrollmentRequest
from fedops.ports import free_port
from tests.e2e.conftest import PROJECT, mnist_task, start_federation
from tests.support.certificates import make_loopback_certificates
from tests.support.processes import ManagedProcess, processes_with, wait_until
from tooling.local_federation import LocalFederation

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
    _assert_refused(federation, fleet, ca, stranger_key, tmp_path / "stranger.log")  # nobody enrolled it

    federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    assert all(c.node_public_key for c in federation.api.registry.list_clients(task.id).data)


def _node_key(directory: Path, name: str) -> tuple[Path, str]:
    """A SuperNode key pair as a fedops client makes one: (private key file, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP384R1())
    path = directory / name
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def _superlink_nodes(root: Path, ca: Path) -> Callable[[], dict[str, str]]:
    """Public key (PEM) -> status of every SuperNode the SuperLink under ``root`` knows,
    asked through Flower's own Control API client (its loopback port read from its command line)."""
    from flwr.proto.control_pb2 import ListNodesRequest
    from flwr.supercore.control.control_http_client import ControlHttpClient

    (pid,) = processes_with(b"flower-superlink", str(root).encode())
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    port = int(arguments[arguments.index(b"--port") + 1])

    def nodes() -> dict[str, str]:
        client = ControlHttpClient.from_server_address(
            server_address=f"127.0.0.1:{port}",
            insecure=False,
            root_certificates=ca.read_bytes(),
            interceptors=[],
        )
        try:
            listed = client.ListNodes(ListNodesRequest()).nodes_info
            return {bytes(node.public_key).decode(): str(node.status) for node in listed}
        finally:
            client.close()

    return nodes


def _supernode(federation: LocalFederation, fleet: str, ca: Path, key: Path, *retries: str) -> list[str]:
    return [
        str(federation.bin / "flower-supernode"), "--superlink", fleet, "--root-certificates", str(ca),
        "--auth-supernode-private-key", str(key), "--port", str(free_port()), *retries,
    ]  # fmt: skip


def _assert_refused(federation: LocalFederation, fleet: str, ca: Path, key: Path, log: Path) -> None:
    """A SuperNode with ``key`` gives up because the SuperLink refuses it (not for another reason).

    In its own process group, stopped by group: it starts a SuperExec that outlives it.
    """
    node = ManagedProcess(
        _supernode(federation, fleet, ca, key, "--max-retries", "1", "--max-wait-time", "20"),
        log_path=log,
        env=federation.env,
    )
    try:
        wait_until(lambda: not node.alive(), timeout=120, what="the refused SuperNode to give up")
    finally:
        node.stop()
    output = node.output()
    assert node.process.returncode != 0, output[-3000:]
    assert "Failed to activate SuperNode" in output, output[-3000:]  # the SuperLink refused the key


def test_a_replaced_node_key_is_revoked(secure_federation: LocalFederation, tmp_path: Path) -> None:
    """Re-enrolling a client with a new key unregisters the old one: the SuperNode holding
    it is dropped, and nothing can connect with it again (review finding F3)."""
    federation = secure_federation
    task = federation.create_task(mnist_task("revoke", rounds=1, xai={"enabled": False}))
    federation.provision(task.id)
    fleet = federation.api.registry.server_status(task.id).fleet_address
    assert fleet is not None
    ca = tmp_path / "tls" / "ca.pem"
    old_key, old_public = _node_key(tmp_path, "old_key")
    _, new_public = _node_key(tmp_path, "new_key")
    nodes = _superlink_nodes(tmp_path / "federation", ca)

    federation.api.registry.enroll(task.id, EnrollmentRequest(name="edge-1", node_public_key=old_public))
    wait_until(lambda: old_public in nodes(), timeout=30, what="the first key admitted")
    old = ManagedProcess(
        _supernode(federation, fleet, ca, old_key), log_path=tmp_path / "old.log", env=federation.env
    )
    try:
        wait_until(  # the old key works: its SuperNode connects
            lambda: nodes().get(old_public) == "online",
            timeout=60,
            what="the first key's SuperNode online (old.log)",
        )
        # The admin re-enrols the client with a new key (as for a reinstalled machine).
        federation.api.registry.enroll(task.id, EnrollmentRequest(name="edge-1", node_public_key=new_public))
        wait_until(
            lambda: nodes().get(old_public) == "unregistered" and new_public in nodes(),
            timeout=30,
            what="the first key revoked and the new one admitted",
        )
        wait_until(
            lambda: not old.alive(), timeout=90, what="the SuperNode with the revoked key to be dropped"
        )
    finally:
        old.stop()
    _assert_refused(federation, fleet, ca, old_key, tmp_path / "again.log")  # and from now on
