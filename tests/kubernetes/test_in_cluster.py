"""The provisioner as the chart runs it: in-cluster configuration, and nothing but the
Role the chart grants. Every operation the registry performs (apply, observe with pods
and events, logs, one reconcile view, pause, delete) must succeed with exactly those
permissions, which `kubectl auth can-i` alone does not prove."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from kubernetes.config import incluster_config

from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners import ServerDeployment
from fedops_services.provisioners.kubernetes import KubernetesProvisioner, api
from tests.support.kube_cluster import POD_LOG_LINES, KubeCluster
from tests.support.processes import wait_until

CHART = Path(__file__).resolve().parents[2] / "charts" / "fedops"
TASK = "feedfacecafebeef0123456789abcdef"


def _as_the_registry_pod(
    cluster: KubeCluster, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply the chart's RBAC and present its token the way the kubelet would to a pod."""
    rendered = subprocess.run(
        [str(cluster.bin_dir / "helm"), "template", "fedops", str(CHART), "-n", namespace,
         "--show-only", "templates/rbac.yaml", "--show-only", "templates/serviceaccount.yaml"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=rendered)
    token = cluster.kubectl("create", "token", "fedops-registry", "-n", namespace).stdout.strip()
    mounted = tmp_path / "serviceaccount"
    mounted.mkdir()
    (mounted / "token").write_text(token)
    (mounted / "ca.crt").write_bytes(cluster.ca_file.read_bytes())
    (mounted / "namespace").write_text(namespace)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(mounted / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(mounted / "ca.crt"))
    monkeypatch.setattr(api, "_SERVICE_ACCOUNT_NAMESPACE", mounted / "namespace")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(cluster.api_port))
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_the_provisioner_works_in_cluster_with_only_the_charts_role(
    kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_the_registry_pod(kube_cluster, kube_namespace, tmp_path, monkeypatch)
    provisioner = KubernetesProvisioner(KubernetesSettings(server_service_account="fedops-fl-server"))
    deployment = ServerDeployment(
        task_id=TASK,
        task_name="in-cluster",
        replicas=1,
        resources=ResourcesSpec(gpu=1),
        secret_env={"FEDOPS_SERVER_TOKEN": "in-cluster-token"},
    )

    assert provisioner.api.namespace == kube_namespace  # read from the pod's mounted namespace file
    provisioner.apply(deployment)
    wait_until(lambda: provisioner.observe(TASK).available_replicas == 1, timeout=60, what="available")
    with provisioner.one_view():
        assert provisioner.managed_task_ids() == {TASK}
        assert provisioner.observe(TASK).pods[0].ready
    assert provisioner.logs(TASK, tail=1) == [POD_LOG_LINES[-1]]
    provisioner.apply(ServerDeployment(**{**deployment.__dict__, "replicas": 0, "secret_env": None}))
    wait_until(lambda: not provisioner.observe(TASK).pods, timeout=30, what="paused")
    provisioner.delete(TASK)

    def nothing_left() -> bool:
        listed = kube_cluster.kubectl(
            "get", "deployments,pods,services,pvc,configmaps,secrets", "-n", kube_namespace,
            "-l", f"fedops.io/task-id={TASK}", "-o", "json",
        )  # fmt: skip
        return not json.loads(listed.stdout)["items"]

    wait_until(nothing_left, timeout=60, what="nothing left")
