"""A federated run through a server the kubernetes provisioner described.

kwok runs no containers, so this test plays the kubelet for the one pod: it reads the
Deployment, ConfigMap and Secret the registry created on the real control plane, and
runs the container's command with exactly that environment (only the bind address is
loopback and the data path a temp dir). Edge clients get the fleet address from the
registry (a NodePort Service, advertised on 127.0.0.1) and train two rounds. What the
manifests say is therefore what runs: command, settings, token, probe path and port.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from fedops_services.provisioners.kubernetes.objects import DATA_MOUNT, object_name
from tests.e2e.conftest import PROJECT, mnist_task
from tests.support.kube_cluster import KubeCluster
from tests.support.processes import ManagedProcess
from tooling.local_federation import LocalFederation, wait_for


def _get(cluster: KubeCluster, namespace: str, kind: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    )
    return document


def _pod_environment(cluster: KubeCluster, namespace: str, container: dict[str, Any]) -> dict[str, str]:
    """envFrom ConfigMaps, then env entries (values or Secret keys), as the kubelet builds it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= _get(cluster, namespace, "configmap", source["configMapRef"]["name"])["data"]
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            reference = entry["valueFrom"]["secretKeyRef"]
            secret = _get(cluster, namespace, "secret", reference["name"])
            env[entry["name"]] = base64.b64decode(secret["data"][reference["key"]]).decode()
    return env


def _health(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_two_rounds_through_a_server_started_from_its_kubernetes_manifests(
    kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    federation = LocalFederation(
        tmp_path / "federation",
        admin_token="k8s-e2e-admin-token-0123456789",
        env={
            "FEDOPS_PROVISIONER": "kubernetes",
            "FEDOPS_KUBERNETES_NAMESPACE": kube_namespace,
            "FEDOPS_KUBERNETES_KUBECONFIG": str(kube_cluster.kubeconfig),
            "FEDOPS_KUBERNETES_SERVICE_TYPE": "NodePort",
            "FEDOPS_KUBERNETES_ADVERTISE_HOST": "127.0.0.1",
            "FEDOPS_ROUND_TIMEOUT_SECONDS": "30",
        },
    )
    federation.env["FEDOPS_API_URL"] = federation.url  # where the server pod reaches the registry
    server: ManagedProcess | None = None
    try:
        federation.start_api()
        task = federation.create_task(mnist_task("k8s-e2e", rounds=2))
        federation.provision(task.id)  # ready: kwok marked the pod Ready
        name = object_name(task.id)
        (container,) = _get(kube_cluster, kube_namespace, "deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        node_port = _get(kube_cluster, kube_namespace, "service", name)["spec"]["ports"][0]["nodePort"]
        status = federation.api.registry.server_status(task.id)
        assert status.fleet_address == f"127.0.0.1:{node_port}"

        # Play the kubelet: the container's command and environment, on loopback.
        data = tmp_path / "server-data"
        data.mkdir()
        env = _pod_environment(kube_cluster, kube_namespace, container)
        assert env["FEDOPS_TASK_ID"] == task.id and env["FEDOPS_SERVER_TOKEN"].startswith("fedops_srv_")
        env = {key: value.replace(DATA_MOUNT, str(data)) for key, value in env.items()}
        env |= {"FEDOPS_FLEET_HOST": "127.0.0.1", "FEDOPS_FLEET_PORT": str(node_port), "HOME": str(data)}
        command = [str(Path(sys.executable).with_name(container["command"][0])), *container["command"][1:]]
        command = [part.replace(DATA_MOUNT, str(data)) for part in command]
        server = ManagedProcess(command, log_path=tmp_path / "server.log", env=env)
        probe = container["readinessProbe"]["httpGet"]
        assert probe["port"] == "fleet" and container["ports"][0]["name"] == "fleet"
        wait_for(lambda: _health(node_port, probe["path"]) or None, 60, "the readiness probe's endpoint")

        federation.start_clients(task.id, PROJECT, 2)
        federation.api.registry.start_run(task.id)
        final = federation.wait_until_ended(task.id, timeout=300)

        assert final.status == "finished", final.status_reason
        rounds = federation.api.monitoring.rounds(task.id).data
        assert [r.round for r in rounds] == [1, 2] and all(r.server and r.server.accuracy for r in rounds)
    finally:
        if server is not None:
            server.stop()
        federation.stop()
