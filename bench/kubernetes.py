"""Kubernetes provisioner benchmarks on the test control plane (kwok node, no containers).

- provision: ``POST /tasks/{id}/server`` on a running ``fedops up`` (kubernetes
  provisioner, embedded SQLite) until the Deployment reports 1 available replica,
  next to the baseline of server-side-applying the same objects straight to the API
  server (what ``kubectl apply --server-side`` does), interleaved, medians of 7;
- reconcile: one ``reconcile_all`` pass of the registry over 50 provisioned tasks
  (apply + observe each), next to the bare floor of writing the same objects,
  medians of 5.
Both sides poll the Deployment the same way (every 20 ms), so the ratio is fedops'
own overhead: REST, database, status reads.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from bench.support import median
from fedops.api import FedopsClient
from fedops.spec import TaskSpec
from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings, Settings
from fedops_services.container import build_services
from fedops_services.provisioners.base import ServerDeployment
from fedops_services.provisioners.kubernetes import objects
from fedops_services.provisioners.kubernetes.api import KubernetesApi
from fedops_services.security import Principal, Role
from tests.support.kube_cluster import KubeCluster, kube_bin_dir
from tests.support.processes import wait_until
from tests.support.stack import FedopsStack

__all__ = ["kubernetes_benchmarks"]

ADMIN_TOKEN = "bench-admin-token-0123456789"  # noqa: S105 - a throwaway benchmark stack
PROVISION_RUNS = 7
RECONCILE_TASKS = 50
RECONCILE_RUNS = 5


def kubernetes_benchmarks(root: Path) -> dict[str, Any]:
    with KubeCluster(kube_bin_dir(), root / "cluster") as cluster:
        cluster.add_volumes(PROVISION_RUNS + 2 * RECONCILE_TASKS)
        provision = _bench_provision(cluster, root / "provision")
        for namespace in ("bench-provision", "bench-direct"):  # frees the node for the next one
            cluster.delete_namespace(namespace)
        return {"provision": provision, "reconcile": _bench_reconcile(cluster, root / "reconcile")}


def _settings(cluster: KubeCluster, namespace: str) -> KubernetesSettings:
    # The bench has no edge machines: the in-cluster address is all it needs (explicitly).
    return KubernetesSettings(namespace=namespace, kubeconfig=cluster.kubeconfig, service_type="ClusterIP")


def _available(api: KubernetesApi, task_id: str) -> bool:
    deployment = api.get("Deployment", objects.object_name(task_id)) or {}
    return bool(deployment.get("status", {}).get("availableReplicas") == 1)


def _timed_until_available(api: KubernetesApi, task_id: str, start: float) -> float:
    wait_until(lambda: _available(api, task_id), timeout=60, interval=0.02, what=f"task {task_id} available")
    return time.perf_counter() - start


def _bench_provision(cluster: KubeCluster, root: Path) -> dict[str, Any]:
    namespace = "bench-provision"
    cluster.create_namespace(namespace)
    api = KubernetesApi(_settings(cluster, namespace))
    # The baseline's objects live apart: the registry would remove them as orphans.
    cluster.create_namespace("bench-direct")
    direct_settings = _settings(cluster, "bench-direct")
    direct_api = KubernetesApi(direct_settings)
    stack = FedopsStack(
        root,
        env={
            "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN,
            "FEDOPS_PROVISIONER": "kubernetes",
            "FEDOPS_KUBERNETES_NAMESPACE": namespace,
            "FEDOPS_KUBERNETES_KUBECONFIG": str(cluster.kubeconfig),
            "FEDOPS_KUBERNETES_SERVICE_TYPE": "ClusterIP",
        },
    )
    stack.start()
    fedops_seconds, direct_seconds = [], []
    try:
        with FedopsClient(stack.url, ADMIN_TOKEN) as admin:
            for run in range(PROVISION_RUNS + 1):  # the first of each is a warm-up
                task = admin.registry.create_task(TaskSpec(name=f"provision-{run}"))
                start = time.perf_counter()
                admin.registry.provision_server(task.id)
                elapsed = _timed_until_available(api, task.id, start)
                direct = _apply_directly(direct_api, direct_settings, uuid.uuid4().hex)
                if run:
                    fedops_seconds.append(elapsed)
                    direct_seconds.append(direct)
    finally:
        stack.stop()
        api.close()
        direct_api.close()
    fedops, baseline = median(fedops_seconds), median(direct_seconds)
    return {
        "fedops_median_seconds": fedops,
        "direct_apply_median_seconds": baseline,
        "ratio": fedops / baseline,
        "fedops_runs": fedops_seconds,
        "direct_runs": direct_seconds,
    }


def _apply_directly(api: KubernetesApi, settings: KubernetesSettings, task_id: str) -> float:
    """The baseline: the same manifests applied straight to the API server."""
    start = time.perf_counter()
    _apply_objects(api, settings, task_id)
    return _timed_until_available(api, task_id, start)


def _apply_objects(api: KubernetesApi, settings: KubernetesSettings, task_id: str) -> None:
    """What fedops creates for a task, written the plain way: apply each object, then the
    token Secret owned by the Deployment."""
    deployment = _deployment(task_id)
    wanted = objects.server_objects(deployment, settings, api.namespace, "baseline-token")
    for manifest in (wanted.config_map, wanted.persistent_volume_claim, wanted.service):
        api.apply(manifest)
    applied = api.apply(wanted.deployment)["metadata"]
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": applied["name"], "uid": applied["uid"]}
    api.create(objects.token_secret(deployment, settings, api.namespace, "baseline-token", owner))


def _deployment(task_id: str) -> ServerDeployment:
    return ServerDeployment(
        task_id=task_id,
        task_name="bench",
        replicas=1,
        resources=ResourcesSpec(),
        env={"FEDOPS_TASK_ID": task_id},
        secret_env={"FEDOPS_SERVER_TOKEN": f"bench-{task_id}"},
    )


def _bench_reconcile(cluster: KubeCluster, root: Path) -> dict[str, Any]:
    namespace = "bench-reconcile"
    cluster.create_namespace(namespace)
    settings = Settings(
        data_dir=root,
        admin_token=ADMIN_TOKEN,
        provisioner="kubernetes",
        kubernetes=_settings(cluster, namespace),
    )
    services = build_services(settings)
    api = KubernetesApi(settings.kubernetes)
    # The floor's objects live apart: in the registry's namespace they would be orphans
    # that its reconcile pass removes.
    cluster.create_namespace("bench-floor")
    floor_settings = _settings(cluster, "bench-floor")
    floor_api = KubernetesApi(floor_settings)
    try:
        admin = Principal(role=Role.ADMIN)
        task_ids = []
        for index in range(RECONCILE_TASKS):
            # Small requests: 50 servers must fit the one 32-CPU fake node.
            spec = TaskSpec(name=f"reconcile-{index}", resources=ResourcesSpec(cpu="100m", memory="256Mi"))
            task = services.tasks.create(admin, spec)
            services.servers.provision(admin, task.id)
            task_ids.append(task.id)
        wait_until(
            lambda: all(_available(api, task_id) for task_id in task_ids),
            timeout=180,
            interval=0.5,
            what=f"{RECONCILE_TASKS} servers available",
        )
        passes, floors = [], []
        baseline_ids = [uuid.uuid4().hex for _ in range(RECONCILE_TASKS)]
        for _ in range(RECONCILE_RUNS):
            start = time.perf_counter()
            services.reconciler.reconcile_all()
            passes.append(time.perf_counter() - start)
            start = time.perf_counter()
            for task_id in baseline_ids:
                _apply_objects(floor_api, floor_settings, task_id)
            floors.append(time.perf_counter() - start)
    finally:
        services.close()
        api.close()
        floor_api.close()
    reconcile, floor = median(passes), median(floors)
    return {
        "tasks": RECONCILE_TASKS,
        "pass_median_seconds": reconcile,
        "per_task_ms": reconcile / RECONCILE_TASKS * 1000,
        "apply_only_median_seconds": floor,
        "ratio": reconcile / floor,
        "passes": passes,
    }
