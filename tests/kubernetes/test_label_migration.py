"""An upgrade over FL servers made by a version that labelled them the other way round
(app.kubernetes.io/instance = the task's name, fedops.io/instance = the installation): this
version finds, observes, updates and deletes them, and relabels what it applies, against a
real control plane. The old objects are built here by hand, applied as that version did
(server-side apply, field manager "fedops")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners import ServerDeployment
from fedops_services.provisioners.kubernetes import KubernetesProvisioner, objects
from tests.support.kube_cluster import KubeCluster
from tests.support.processes import wait_until

TASK = "feedface0123456789abcdef01234567"
OTHERS_TASK = "0badcafe0123456789abcdef01234567"  # of another installation; its name is ours
INSTALLATION = "fedops"  # the default settings.instance, as the chart's release "fedops" sets it
TOKEN_SECRET = f"fedops-server-{TASK}-legacytoken"
NEW_LABELS = {
    "app.kubernetes.io/name": "fedops-server",
    "app.kubernetes.io/instance": INSTALLATION,
    "app.kubernetes.io/managed-by": "fedops",
    "app.kubernetes.io/component": "fl-server",
    "fedops.io/task-id": TASK,
    "fedops.io/task-name": "mnist-xai",
}


def _deployment(task_id: str = TASK, task_name: str = "mnist-xai", **resources: Any) -> ServerDeployment:
    return ServerDeployment(
        task_id=task_id,
        task_name=task_name,
        replicas=1,
        resources=ResourcesSpec.model_validate(resources),
        env={"FEDOPS_TASK_ID": task_id},
        secret_env=None,  # the running Deployment's token Secret is kept
    )


def _old_labels(task_id: str, task_name: str, installation: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "fedops-server",
        "app.kubernetes.io/instance": task_name,
        "app.kubernetes.io/managed-by": "fedops",
        "app.kubernetes.io/component": "fl-server",
        "fedops.io/instance": installation,
        "fedops.io/task-id": task_id,
    }


def _create_the_old_way(
    provisioner: KubernetesProvisioner, task_id: str, task_name: str, installation: str
) -> None:
    """ConfigMap, claim, Service and Deployment with the old labels, and the token Secret."""
    old = _old_labels(task_id, task_name, installation)
    secret_name = f"fedops-server-{task_id}-legacytoken"
    wanted = objects.server_objects(
        _deployment(task_id, task_name), KubernetesSettings(), provisioner.api.namespace, secret_name
    )
    manifests = [wanted.config_map, wanted.persistent_volume_claim, wanted.service, wanted.deployment]
    for manifest in manifests:
        manifest["metadata"]["labels"] = old
    wanted.deployment["spec"]["template"]["metadata"]["labels"] = old
    assert wanted.deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/component": "fl-server",
        "fedops.io/task-id": task_id,
    }  # the selector then was what it is now
    for manifest in manifests:
        applied = provisioner.api.apply(manifest)
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": applied["metadata"]["name"]}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name,
            "labels": old,
            "ownerReferences": [owner | {"uid": applied["metadata"]["uid"]}],
        },
        "stringData": {"FEDOPS_SERVER_TOKEN": "fedops_srv_legacy"},
    }
    provisioner.api.create(secret)


def _get(cluster: KubeCluster, namespace: str, kind: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    )
    return document


def _pods(cluster: KubeCluster, namespace: str) -> list[dict[str, Any]]:
    listed = cluster.kubectl("get", "pods", "-n", namespace, "-l", f"fedops.io/task-id={TASK}", "-o", "json")
    return [pod for pod in json.loads(listed.stdout)["items"] if "deletionTimestamp" not in pod["metadata"]]


@pytest.fixture
def provisioner(kube_cluster: KubeCluster, kube_namespace: str) -> KubernetesProvisioner:
    return KubernetesProvisioner(
        KubernetesSettings(
            namespace=kube_namespace, kubeconfig=kube_cluster.kubeconfig, instance=INSTALLATION
        )
    )


def test_servers_labelled_by_an_earlier_version_are_adopted_updated_and_deleted(
    provisioner: KubernetesProvisioner, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    _create_the_old_way(provisioner, TASK, "mnist-xai", INSTALLATION)
    # Another installation's server, in the same namespace, whose task is named "fedops".
    _create_the_old_way(provisioner, OTHERS_TASK, INSTALLATION, "other")
    name = objects.object_name(TASK)
    uid = _get(kube_cluster, kube_namespace, "deployment", name)["metadata"]["uid"]

    # Found and observed: its objects, and its pods (still of the old template), are ours.
    assert provisioner.managed_task_ids() == {TASK}

    def observed_available() -> bool:
        with provisioner.one_view():
            observed = provisioner.observe(TASK)
        return (
            observed.available_replicas == 1 and observed.volume_phase == "Bound" and len(observed.pods) == 1
        )

    wait_until(observed_available, timeout=60, interval=0.3, what="the old server observed available")

    # Updated: one apply (a reconcile pass's) relabels every object; a resource change rolls out.
    with provisioner.one_view():
        provisioner.apply(_deployment(cpu="2", memory="4Gi"))
    for kind in ("configmap", "service", "pvc", "deployment"):
        assert _get(kube_cluster, kube_namespace, kind, name)["metadata"]["labels"] == NEW_LABELS, kind
    deployment = _get(kube_cluster, kube_namespace, "deployment", name)
    assert deployment["metadata"]["uid"] == uid  # the same Deployment: its selector did not change
    assert deployment["spec"]["template"]["metadata"]["labels"] == NEW_LABELS
    assert deployment["metadata"]["annotations"]["fedops.io/token-secret"] == TOKEN_SECRET  # token kept

    def rolled_out() -> bool:
        pods = _pods(kube_cluster, kube_namespace)
        return [(p["metadata"]["labels"].get("app.kubernetes.io/instance"),
                 p["spec"]["containers"][0]["resources"]["limits"]) for p in pods] == [
            (INSTALLATION, {"cpu": "2", "memory": "4Gi"})
        ]  # fmt: skip

    wait_until(rolled_out, timeout=60, what="the new pod, with the new labels and limits")
    wait_until(observed_available, timeout=60, interval=0.3, what="the relabelled server available")
    provisioner.apply(_deployment(cpu="2", memory="4Gi"))  # nothing left to migrate: nothing changes
    assert (
        _get(kube_cluster, kube_namespace, "deployment", name)["metadata"]["generation"]
        == (deployment["metadata"]["generation"])
    )

    # Deleted: every object of the task goes; the other installation's server stays.
    provisioner.delete(TASK)

    def nothing_left() -> bool:
        kinds = "deployments,replicasets,pods,services,persistentvolumeclaims,configmaps,secrets"
        listed = kube_cluster.kubectl(
            "get", kinds, "-n", kube_namespace, "-l", f"fedops.io/task-id={TASK}", "-o", "name"
        )
        return listed.stdout.strip() == ""

    wait_until(nothing_left, timeout=60, what="every object of the task gone (the Secret with its owner)")
    assert provisioner.managed_task_ids() == set()
    others = _get(kube_cluster, kube_namespace, "deployment", objects.object_name(OTHERS_TASK))
    assert others["metadata"]["labels"]["fedops.io/instance"] == "other"
