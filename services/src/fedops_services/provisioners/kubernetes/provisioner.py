"""Runs each task's FL server as Kubernetes objects: Deployment, Service, volume claim.

``apply`` server-side-applies every object (create or update in one idempotent call),
so a registry restart re-applies the same manifests and nothing restarts; a change of
resources changes the pod template and the Deployment rolls out; pause is replicas 0.
The server's token lives in a Secret named after the token and owned by the
Deployment: fedops only ever creates Secrets (it may not read any), and the garbage
collector removes the Secret with its Deployment.

Objects an earlier version made (labelled the other way round, see ``objects``) are
found, observed and deleted like new ones; applying a task's server relabels them (a
rollout of its pods, whose template labels change, as any upgrade of the image does).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from fedops.api.schemas import PodStatus
from fedops_services.config import KubernetesSettings, render_fleet_address
from fedops_services.provisioners.base import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
    require_single_replica,
)
from fedops_services.provisioners.kubernetes import objects
from fedops_services.provisioners.kubernetes.api import Json, KubernetesApi
from fedops_services.provisioners.kubernetes.status import (
    describe_pod,
    exposure_note,
    is_ready,
    latest_warning,
    restart_count,
    secret_missing,
    summarize,
)

__all__ = ["KubernetesProvisioner"]

# Deleted in this order: the Deployment first, so its pods stop using the volume.
_KINDS = ("Deployment", "Service", "PersistentVolumeClaim", "ConfigMap")


class KubernetesProvisioner(Provisioner):
    name = "kubernetes"

    def __init__(self, settings: KubernetesSettings) -> None:
        self.settings = settings
        self.api = KubernetesApi(settings)
        self._local = threading.local()  # .view: this thread's _NamespaceView, if any
        self._fleet = objects.label_selector(objects.fleet_selector())  # then filtered: belongs()

    # --- Provisioner ---------------------------------------------------------------------

    def apply(self, deployment: ServerDeployment) -> None:
        _check_task_id(deployment.task_id)
        require_single_replica(deployment)
        token_secret, live_uid = self._token_secret_name(deployment)
        wanted = objects.server_objects(deployment, self.settings, self.api.namespace, token_secret)
        self.api.apply(wanted.config_map)
        self.api.apply(wanted.service)
        # A claim's class and size are fixed once it exists (most classes cannot resize):
        # applied only to create it, so a changed setting never blocks existing servers.
        # (Within a reconcile pass the view answers; a claim deleted since is made next pass.)
        claim = self._get("PersistentVolumeClaim", wanted.persistent_volume_claim["metadata"]["name"])
        if claim is None:
            self.api.apply(wanted.persistent_volume_claim)
        elif objects.is_legacy(claim):  # an earlier version's labels; nothing else changes
            relabelled = objects.relabelling(deployment, self.settings)
            self.api.patch_labels("PersistentVolumeClaim", claim["metadata"]["name"], relabelled)
        applied = self.api.apply(wanted.deployment)
        if live_uid is not None and applied["metadata"]["uid"] != live_uid:
            # Deleted and re-created between our read and this apply: the old Deployment's
            # token Secret is collected with it, and nothing else would ever tell us so
            # (until a pod fails to start). Ask for a new token now.
            raise CredentialsMissingError(
                f"the Deployment of task {deployment.task_id} was replaced while it was being"
                " updated; its token Secret goes with the old one"
            )
        if deployment.secret_env:
            owner = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": applied["metadata"]["name"],
                "uid": applied["metadata"]["uid"],
            }
            # Same token, same name: an existing Secret is this one (create answers None).
            secret = objects.token_secret(deployment, self.settings, self.api.namespace, token_secret, owner)
            self.api.create(secret)

    def observe(self, task_id: str) -> ObservedServer:
        _check_task_id(task_id)
        name = objects.object_name(task_id)
        current = self._get("Deployment", name)
        claim = self._get("PersistentVolumeClaim", name)
        volume_phase = "Absent" if claim is None else claim.get("status", {}).get("phase") or "Pending"
        if current is None:
            return ObservedServer(exists=False, volume_phase=volume_phase, reason="no server deployed")
        alive = self._alive_pods(task_id)
        pods = self._pods(alive)
        volume_warning = self._warning("PersistentVolumeClaim", name) if volume_phase == "Pending" else ""
        status = current.get("status", {})
        view = self._view()
        address = self._fleet_address(task_id, self._get("Service", name))
        reason = summarize(current, pods, volume_phase, volume_warning)
        if current.get("spec", {}).get("replicas"):  # a paused server has no one to reach it
            reason += exposure_note(self.settings, address)
        return ObservedServer(
            exists=True,
            observed_at=view.taken_at if view is not None else None,
            replicas=status.get("replicas") or 0,
            ready_replicas=status.get("readyReplicas") or 0,
            available_replicas=status.get("availableReplicas") or 0,
            volume_phase=volume_phase,
            fleet_address=address,
            reason=reason,
            pods=tuple(pods),
            restarts=sum(restart_count(pod) for pod in alive),
        )

    def logs(self, task_id: str, tail: int) -> list[str]:
        _check_task_id(task_id)
        pods = self.api.list("Pod", labels=_selector(task_id))
        running = [pod for pod in pods if pod.get("status", {}).get("phase") == "Running"]
        if not running or tail <= 0:
            return []
        newest = max(running, key=lambda pod: pod["metadata"].get("creationTimestamp", ""))
        text = self.api.pod_log(newest["metadata"]["name"], objects.CONTAINER, tail)
        return text.splitlines()[-tail:]

    def delete(self, task_id: str) -> None:
        _check_task_id(task_id)
        name = objects.object_name(task_id)
        for kind in _KINDS:  # the token Secret goes with its owner, the Deployment
            self.api.delete(kind, name)

    def managed_task_ids(self) -> set[str]:
        found: set[str] = set()
        for kind in _KINDS:
            for item in self._list_managed(kind):
                task_id = (item["metadata"].get("labels") or {}).get(objects.TASK_LABEL)
                if task_id:
                    found.add(task_id)
        return found

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """One list per kind for the whole namespace instead of reads per task."""
        if self._view() is not None:  # nested: keep the outer view
            yield
            return
        self._local.view = _NamespaceView(self._list_own)
        try:
            yield
        finally:
            self._local.view = None

    def close(self) -> None:
        self.api.close()

    # --- internals -----------------------------------------------------------------------

    def _token_secret_name(self, deployment: ServerDeployment) -> tuple[str, str | None]:
        """The Secret of a new token, or the one the running Deployment already uses (read
        live: a Deployment replaced since a view was taken names another Secret) with that
        Deployment's UID, which the apply must find unchanged."""
        token = (deployment.secret_env or {}).get("FEDOPS_SERVER_TOKEN")
        if token:
            return objects.token_secret_name(deployment.task_id, token), None
        current = self.api.get("Deployment", objects.object_name(deployment.task_id)) or {}
        secret = (current.get("metadata", {}).get("annotations") or {}).get(objects.TOKEN_SECRET_ANNOTATION)
        if not secret:  # its token Secret went with it (owner reference): a new token is due
            raise CredentialsMissingError(
                f"the Deployment of task {deployment.task_id} and its token Secret are gone"
            )
        view = self._view()  # within a reconcile pass: its pods are read already, for free
        if view is not None and secret_missing(view.pods.get(deployment.task_id, []), str(secret)):
            raise CredentialsMissingError(
                f"the token Secret {secret} of task {deployment.task_id} was deleted"
            )
        return str(secret), str(current["metadata"]["uid"])

    def _view(self) -> _NamespaceView | None:
        view: _NamespaceView | None = getattr(self._local, "view", None)
        return view

    def _get(self, kind: str, name: str) -> Json | None:
        view = self._view()
        return view.objects[kind].get(name) if view is not None else self.api.get(kind, name)

    def _list_managed(self, kind: str) -> list[Json]:
        view = self._view()
        return list(view.objects[kind].values()) if view is not None else self._list_own(kind)

    def _list_own(self, kind: str) -> list[Json]:
        """This installation's objects of a kind, whichever version of fedops made them."""
        listed = self.api.list(kind, labels=self._fleet)
        return [item for item in listed if objects.belongs(item, self.settings)]

    def _alive_pods(self, task_id: str) -> list[Json]:
        view = self._view()
        listed = (
            view.pods.get(task_id, [])
            if view is not None
            else self.api.list("Pod", labels=_selector(task_id))
        )
        # Pods on their way out (scale-down, rollout) are not the server's state.
        alive = [pod for pod in listed if "deletionTimestamp" not in pod["metadata"]]
        return sorted(alive, key=lambda pod: str(pod["metadata"]["name"]))

    def _pods(self, pods: list[Json]) -> list[PodStatus]:
        return [
            describe_pod(pod, "" if is_ready(pod) else self._warning("Pod", pod["metadata"]["name"]))
            for pod in pods
        ]

    def _warning(self, kind: str, name: str) -> str:
        events = self.api.list("Event", fields=f"involvedObject.kind={kind},involvedObject.name={name}")
        return latest_warning(events)

    def _fleet_address(self, task_id: str, service: Json | None) -> str | None:
        if service is None:
            return None
        if self.settings.fleet_address:  # the operator routes edge traffic to the Service
            values = {
                "task_id": task_id,
                "task_name": (service["metadata"].get("annotations") or {}).get("fedops.io/task-name", ""),
                "service": service["metadata"]["name"],
                "namespace": service["metadata"]["namespace"],
            }
            return render_fleet_address(self.settings.fleet_address, values)
        port = self.settings.fleet_port
        if self.settings.service_type == "LoadBalancer":
            ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress") or []
            host = next((entry.get("ip") or entry.get("hostname") for entry in ingress), None)
            return f"{host}:{port}" if host else None
        if self.settings.service_type == "NodePort":
            ports = service.get("spec", {}).get("ports") or []
            node_port = next((entry.get("nodePort") for entry in ports if entry.get("nodePort")), None)
            host = self.settings.advertise_host
            return f"{host}:{node_port}" if host and node_port else None
        metadata = service["metadata"]
        return f"{metadata['name']}.{metadata['namespace']}.svc:{port}"


class _NamespaceView:
    """Every object of this installation in the namespace, read once (five list calls)."""

    def __init__(self, list_own: Callable[[str], list[Json]]) -> None:
        self.taken_at = datetime.now(UTC)
        self.objects = {kind: {item["metadata"]["name"]: item for item in list_own(kind)} for kind in _KINDS}
        self.pods: defaultdict[str, list[Json]] = defaultdict(list)
        for pod in list_own("Pod"):
            self.pods[(pod["metadata"].get("labels") or {}).get(objects.TASK_LABEL, "")].append(pod)


def _selector(task_id: str) -> str:
    return objects.label_selector(objects.selector(task_id))


def _check_task_id(task_id: str) -> None:
    if not re.fullmatch(r"[a-z0-9]{1,40}", task_id):  # uuid hex; part of object names
        raise ProvisionerError(f"invalid task id {task_id!r}")
