"""The test cluster itself: real apiserver, scheduler, controllers and a kwok GPU node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.kube_cluster import KubeCluster
from tests.support.processes import wait_until


def _get(cluster: KubeCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def test_server_version_is_the_pinned_one(kube_cluster: KubeCluster) -> None:
    assert kube_cluster.version == "v1.37.2"
    assert kube_cluster.server.startswith("https://127.0.0.1:")
    version = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.2"
    assert version["clientVersion"]["gitVersion"] == "v1.37.2"


def test_gpu_node_is_ready(kube_cluster: KubeCluster) -> None:
    node = _get(kube_cluster, "node", kube_cluster.node_name)
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"


def test_gpu_deployment_becomes_available(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "trainer", "namespace": kube_namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "trainer"}},
            "template": {
                "metadata": {"labels": {"app": "trainer"}},
                "spec": {
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "registry.invalid/x",
                            "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}},
                        }
                    ]
                },
            },
        },
    }
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(deployment))

    def available() -> bool:
        status = _get(kube_cluster, "deployment", "trainer", "-n", kube_namespace)["status"]
        return bool(status.get("replicas") == 1 and status.get("availableReplicas") == 1)

    wait_until(available, timeout=60, interval=0.5, what="deployment trainer 1/1 available")
    (pod,) = _get(kube_cluster, "pods", "-n", kube_namespace, "-l", "app=trainer")["items"]
    assert pod["spec"]["nodeName"] == kube_cluster.node_name
    assert pod["status"]["phase"] == "Running"


def test_pvc_without_storage_class_binds(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": kube_namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    }
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))

    def bound() -> bool:
        return bool(_get(kube_cluster, "pvc", "data", "-n", kube_namespace)["status"].get("phase") == "Bound")

    wait_until(bound, timeout=60, interval=0.5, what="PVC data Bound")
    volume = _get(kube_cluster, "pvc", "data", "-n", kube_namespace)["spec"]["volumeName"]
    assert volume.startswith("fedops-test-pv-")


def test_gpu_request_must_equal_limit(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad-gpu", "namespace": kube_namespace},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.invalid/x",
                    "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}},
                }
            ]
        },
    }
    result = kube_cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert result.returncode != 0
    assert "must be equal to nvidia.com/gpu limit" in result.stderr


def test_kubeconfig_for_python_clients(kubeconfig_path: Path, kube_cluster: KubeCluster) -> None:
    from kubernetes import client, config

    # The client reads $KUBECONFIG when first imported, so name the file explicitly.
    config.load_kube_config(config_file=str(kubeconfig_path))  # type: ignore[no-untyped-call]
    with client.ApiClient() as api_client:
        node = client.CoreV1Api(api_client).read_node(kube_cluster.node_name)
    assert node.status is not None and node.status.allocatable is not None
    assert node.status.allocatable["nvidia.com/gpu"] == "8"
    assert kubeconfig_path == kube_cluster.kubeconfig
