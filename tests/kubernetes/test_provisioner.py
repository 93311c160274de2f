"""The kubernetes provisioner against a real control plane (apiserver, scheduler,
controllers, a kwok node with 8 GPUs). No containers run: kwok marks scheduled pods
Running and Ready, and serves a fixed log through the pods/log API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedops.ports import free_port
from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners import (
    CredentialsMissingError,
    ObservedServer,
    ProvisionerError,
    ServerDeployment,
)
from fedops_services.provisioners.kubernetes import KubernetesProvisioner
from tests.support.kube_cluster import POD_LOG_LINES, KubeCluster
from tests.support.processes import wait_until

TASK = "0123456789abcdef0123456789abcdef"
NAME = f"fedops-server-{TASK}"


def _deployment(replicas: int = 1, token: str | None = "tok-0123", **resources: Any) -> ServerDeployment:  # noqa: S107
    return ServerDeployment(
        task_id=TASK,
        task_name="mnist-xai",
        replicas=replicas,
        resources=ResourcesSpec.model_validate(resources),
        env={"FEDOPS_TASK_ID": TASK, "FEDOPS_API_URL": "http://fedops-registry:8080"},
        secret_env={"FEDOPS_SERVER_TOKEN": token} if token else None,
    )


@pytest.fixture
def provisioner(kube_cluster: KubeCluster, kube_namespace: str) -> KubernetesProvisioner:
    return KubernetesProvisioner(
        KubernetesSettings(namespace=kube_namespace, kubeconfig=kube_cluster.kubeconfig)
    )


def _get(cluster: KubeCluster, namespace: str, kind: str, name: str = NAME) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    )
    return document


def _wait_available(provisioner: KubernetesProvisioner, replicas: int = 1) -> ObservedServer:
    def available() -> bool:
        observed = provisioner.observe(TASK)
        return observed.available_replicas == replicas and observed.volume_phase == "Bound"

    wait_until(
        available,
        timeout=60,
        interval=0.3,
        what=f"{replicas} available replica(s)",
    )
    return provisioner.observe(TASK)


def _pod_limits(cluster: KubeCluster, namespace: str) -> list[dict[str, str]]:
    pods = json.loads(
        cluster.kubectl(
            "get", "pods", "-n", namespace, "-l", f"fedops.io/task-id={TASK}", "-o", "json"
        ).stdout
    )["items"]
    return [
        pod["spec"]["containers"][0]["resources"]["limits"]
        for pod in pods
        if "deletionTimestamp" not in pod["metadata"]
    ]


def test_a_task_gets_a_deployment_service_and_volume_with_exactly_its_limits(
    provisioner: KubernetesProvisioner, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    provisioner.apply(_deployment(cpu="1", memory="2Gi", gpu=1))
    observed = _wait_available(provisioner)

    assert (observed.replicas, observed.ready_replicas, observed.available_replicas) == (1, 1, 1)
    assert observed.volume_phase == "Bound" and observed.reason.startswith("available: 1/1 replicas ready; ")
    # The default Service is ClusterIP: the status says edge machines cannot use its address.
    assert f"edge machines outside the cluster cannot reach {observed.fleet_address}" in observed.reason
    assert observed.fleet_address == f"{NAME}.{kube_namespace}.svc:9092"
    deployment = _get(kube_cluster, kube_namespace, "deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    exact = {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"limits": exact, "requests": exact}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["port"] == "fleet"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["command"][0] == "fedops-server"
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/component": "fl-server",
        "fedops.io/task-id": TASK,
    }
    service = _get(kube_cluster, kube_namespace, "service")
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["port"] == 9092
    claim = _get(kube_cluster, kube_namespace, "pvc")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi" and claim["status"]["phase"] == "Bound"
    config = _get(kube_cluster, kube_namespace, "configmap")["data"]
    assert config["FEDOPS_TASK_ID"] == TASK and "FEDOPS_SERVER_TOKEN" not in config
    # The token is in a Secret the Deployment owns, referenced by name, never in the ConfigMap.
    (reference,) = container["env"]
    secret = _get(kube_cluster, kube_namespace, "secret", reference["valueFrom"]["secretKeyRef"]["name"])
    assert secret["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
    # Logs come through the pods/log API (kwok serves a fixed file for every container).
    assert provisioner.logs(TASK, tail=2) == list(POD_LOG_LINES[-2:])
    assert provisioner.managed_task_ids() == {TASK}


def test_a_request_no_node_can_hold_stays_pending_and_says_why(provisioner: KubernetesProvisioner) -> None:
    provisioner.apply(_deployment(gpu=16))  # the node has 8

    wait_until(
        lambda: "Insufficient nvidia.com/gpu" in provisioner.observe(TASK).reason,
        timeout=60,
        interval=0.5,
        what="the scheduler's reason",
    )
    observed = provisioner.observe(TASK)
    assert observed.available_replicas == 0 and observed.ready_replicas == 0
    (pod,) = observed.pods
    assert pod.phase == "Pending" and not pod.ready and "FailedScheduling" in pod.reason


def test_lifecycle_scale_rollout_pause_resume_and_delete(
    provisioner: KubernetesProvisioner, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    provisioner.apply(_deployment())
    _wait_available(provisioner)
    generation = _get(kube_cluster, kube_namespace, "deployment")["metadata"]["generation"]

    provisioner.apply(_deployment(token=None))  # a registry restart re-applies: nothing changes
    assert _get(kube_cluster, kube_namespace, "deployment")["metadata"]["generation"] == generation

    # Two SuperLinks on one state file and one ReadWriteOnce volume cannot work: refused.
    with pytest.raises(ProvisionerError, match="at most 1 replica") as refused:
        provisioner.apply(_deployment(replicas=2, token=None))
    assert refused.value.unsupported
    assert _get(kube_cluster, kube_namespace, "deployment")["spec"]["replicas"] == 1

    provisioner.apply(_deployment(cpu="2", memory="4Gi", token=None))  # a rollout
    wait_until(
        lambda: _pod_limits(kube_cluster, kube_namespace) == [{"cpu": "2", "memory": "4Gi"}],
        timeout=60,
        what="the new pods with the new limits",
    )
    _wait_available(provisioner)

    provisioner.apply(_deployment(replicas=0, token=None))
    wait_until(lambda: not provisioner.observe(TASK).pods, timeout=30, what="paused: no pods")
    assert provisioner.observe(TASK).reason == "paused (0 replicas)"
    provisioner.apply(_deployment(replicas=1, token=None))
    _wait_available(provisioner)

    provisioner.delete(TASK)
    provisioner.delete(TASK)  # safe to repeat

    def nothing_left() -> bool:
        kinds = "deployments,replicasets,pods,services,persistentvolumeclaims,configmaps,secrets"
        listed = kube_cluster.kubectl(
            "get", kinds, "-n", kube_namespace, "-l", f"fedops.io/task-id={TASK}", "-o", "name"
        )
        return listed.stdout.strip() == ""

    wait_until(
        nothing_left, timeout=60, what="every object of the task gone (the Secret by garbage collection)"
    )
    assert not provisioner.observe(TASK).exists and provisioner.managed_task_ids() == set()


def test_kubernetes_errors_become_messages_a_person_can_act_on(
    kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    missing = KubernetesProvisioner(
        KubernetesSettings(namespace="no-such-namespace", kubeconfig=kube_cluster.kubeconfig)
    )
    with pytest.raises(ProvisionerError, match="namespace 'no-such-namespace' does not exist"):
        missing.apply(_deployment())

    # A service account without any Role: every write is forbidden.
    kube_cluster.kubectl("create", "serviceaccount", "nobody", "-n", kube_namespace)
    token = kube_cluster.kubectl("create", "token", "nobody", "-n", kube_namespace).stdout.strip()
    kubeconfig = tmp_path / "nobody.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": kube_cluster.server,
                            "certificate-authority": str(kube_cluster.ca_file),
                        },
                    }
                ],
                "users": [{"name": "nobody", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "nobody"}}],
                "current-context": "c",
            }
        )
    )
    forbidden = KubernetesProvisioner(KubernetesSettings(namespace=kube_namespace, kubeconfig=kubeconfig))
    with pytest.raises(ProvisionerError, match=r"not allowed to apply ConfigMap .*check its Role") as refused:
        forbidden.apply(_deployment())
    assert "{" not in refused.value.public_message  # a sentence, not the raw Status document

    unreachable = tmp_path / "unreachable.kubeconfig"
    unreachable.write_text(
        kubeconfig.read_text().replace(kube_cluster.server, f"https://127.0.0.1:{free_port()}")
    )
    down = KubernetesProvisioner(
        KubernetesSettings(namespace=kube_namespace, kubeconfig=unreachable, request_timeout_seconds=2)
    )
    with pytest.raises(ProvisionerError, match="cannot reach the Kubernetes API"):
        down.observe(TASK)

    no_config = KubernetesProvisioner(
        KubernetesSettings(namespace=kube_namespace, kubeconfig=tmp_path / "absent")
    )
    with pytest.raises(ProvisionerError, match="no Kubernetes configuration"):
        no_config.observe(TASK)
    # Nothing was created by any of the refused calls.
    listed = kube_cluster.kubectl(
        "get",
        "deployments,services,pvc,configmaps",
        "-n",
        kube_namespace,
        "-l",
        "app.kubernetes.io/managed-by=fedops",
        "-o",
        "name",
    )
    assert listed.stdout.strip() == ""


def test_a_deployment_without_its_token_asks_for_a_new_one_and_changes_nothing(
    provisioner: KubernetesProvisioner, kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    with pytest.raises(CredentialsMissingError, match="token Secret"):
        provisioner.apply(_deployment(token=None))

    listed = kube_cluster.kubectl(
        "get",
        "all,configmaps,secrets,pvc",
        "-n",
        kube_namespace,
        "-l",
        f"fedops.io/task-id={TASK}",
        "-o",
        "name",
    )
    assert listed.stdout.strip() == ""


def test_a_deployment_replaced_between_read_and_apply_asks_for_a_new_token(
    provisioner: KubernetesProvisioner,
    kube_cluster: KubeCluster,
    kube_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race of a reconcile pass with ``kubectl delete``: the pass reads the Deployment
    (and the Secret its annotation names), the Deployment is deleted, and the pass's apply
    re-creates it. The old Secret belonged to the old Deployment and is collected, so the
    apply must notice the new UID and ask for a new token rather than keep the old name."""
    provisioner.apply(_deployment(token="tok-first"))
    first_uid = _get(kube_cluster, kube_namespace, "deployment")["metadata"]["uid"]

    read_live = provisioner.api.get

    def read_then_lose(kind: str, name: str) -> Any:
        found = read_live(kind, name)
        if kind == "Deployment":  # what `kubectl delete --wait=false` does at that moment
            kube_cluster.kubectl("delete", "deployment", name, "-n", kube_namespace, "--wait=false")
        return found

    monkeypatch.setattr(provisioner.api, "get", read_then_lose)
    with pytest.raises(CredentialsMissingError, match="replaced"):
        provisioner.apply(_deployment(token=None))
    monkeypatch.undo()

    # The registry answers with a new token: a Secret owned by the new Deployment.
    provisioner.apply(_deployment(token="tok-second"))
    current = _get(kube_cluster, kube_namespace, "deployment")
    assert current["metadata"]["uid"] != first_uid
    secret_name = current["metadata"]["annotations"]["fedops.io/token-secret"]
    secret = _get(kube_cluster, kube_namespace, "secret", secret_name)
    assert [owner["uid"] for owner in secret["metadata"]["ownerReferences"]] == [current["metadata"]["uid"]]


def test_service_type_storage_class_and_service_account_follow_the_settings(
    kube_cluster: KubeCluster, kube_namespace: str
) -> None:
    settings = KubernetesSettings(
        namespace=kube_namespace,
        kubeconfig=kube_cluster.kubeconfig,
        service_type="NodePort",
        advertise_host="edge.example.org",
        storage_class="",  # "" asks for no class at all, which the test volumes have
        server_service_account="fl-server",
    )
    provisioner = KubernetesProvisioner(settings)

    provisioner.apply(_deployment())
    # The service account does not exist yet: no pod can be created, and status says so.
    wait_until(
        lambda: 'serviceaccount "fl-server" not found' in provisioner.observe(TASK).reason,
        timeout=30,
        what="the ReplicaFailure reason",
    )
    kube_cluster.kubectl("create", "serviceaccount", "fl-server", "-n", kube_namespace)
    observed = _wait_available(provisioner)

    service = _get(kube_cluster, kube_namespace, "service")
    node_port = service["spec"]["ports"][0]["nodePort"]
    assert service["spec"]["type"] == "NodePort"
    assert observed.fleet_address == f"edge.example.org:{node_port}"
    assert _get(kube_cluster, kube_namespace, "pvc")["spec"]["storageClassName"] == ""
    pod = _get(kube_cluster, kube_namespace, "deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "fl-server"
