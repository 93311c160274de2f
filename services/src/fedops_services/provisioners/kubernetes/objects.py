"""The Kubernetes objects of one task's FL server, as plain manifests.

Pure functions of the desired state and the settings: no API calls, so what fedops
asks of a cluster can be read (and unit-tested) here in one place. Every object carries
the same labels, which is how the provisioner finds, lists and deletes them.

Labels follow Kubernetes' recommended ones as Helm uses them: ``app.kubernetes.io/instance``
is the installation (``settings.instance``), ``fedops.io/task-id`` and ``fedops.io/task-name``
the task. Versions before this one had it the other way round (the task name in
``app.kubernetes.io/instance``, the installation in ``fedops.io/instance``); ``belongs``
still recognises their objects, and the provisioner relabels them (see ``LEGACY_INSTANCE_LABEL``).
The Deployment's selector (component and task id) is the same in both, so no Deployment
has to be re-created: its selector is immutable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.base import ServerDeployment
from fedops_services.provisioners.environment import SECRET_NAMES, secret_environment, server_environment

__all__ = [
    "COMPONENT",
    "CONTAINER",
    "DATA_MOUNT",
    "INSTANCE_LABEL",
    "LEGACY_INSTANCE_LABEL",
    "MANAGED_BY",
    "TASK_LABEL",
    "TASK_NAME_LABEL",
    "TOKEN_SECRET_ANNOTATION",
    "ServerObjects",
    "belongs",
    "config_map",
    "fleet_selector",
    "is_legacy",
    "label_selector",
    "managed",
    "object_name",
    "persistent_volume_claim",
    "relabelling",
    "resource_requirements",
    "selector",
    "server_objects",
    "service",
    "token_secret",
    "token_secret_name",
]

MANAGED_BY = "fedops"
COMPONENT = "fl-server"
TASK_LABEL = "fedops.io/task-id"
TASK_NAME_LABEL = "fedops.io/task-name"
INSTANCE_LABEL = "app.kubernetes.io/instance"  # the installation, as in Helm's charts
# Where objects of earlier versions carry the installation (their app.kubernetes.io/instance
# is the task name). Server-side apply drops it from the objects fedops applies (it is no
# longer in their manifests); a claim, applied only once, is relabelled (``relabelling``).
LEGACY_INSTANCE_LABEL = "fedops.io/instance"
TOKEN_SECRET_ANNOTATION = "fedops.io/token-secret"  # noqa: S105 - an annotation key
CONFIG_HASH_ANNOTATION = "fedops.io/config-hash"
CONTAINER = "server"
DATA_MOUNT = "/var/lib/fedops/server"
TLS_MOUNT = "/etc/fedops/fleet-tls"
GPU_RESOURCE = "nvidia.com/gpu"
RUNTIME_UID = 10001  # the services image's user


@dataclass(frozen=True)
class ServerObjects:
    """Everything applied for a task, in the order it is applied."""

    config_map: dict[str, Any]
    persistent_volume_claim: dict[str, Any]
    service: dict[str, Any]
    deployment: dict[str, Any]


def object_name(task_id: str) -> str:
    """One name for all of a task's objects (a DNS-1035 label: starts with a letter)."""
    return f"fedops-server-{task_id}"


def selector(task_id: str) -> dict[str, str]:
    return {"app.kubernetes.io/component": COMPONENT, TASK_LABEL: task_id}


def fleet_selector() -> dict[str, str]:
    """Every FL server object fedops made, of any installation and any version; ``belongs``
    then tells this installation's (the installation label moved between versions)."""
    return {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/component": COMPONENT}


def managed(settings: KubernetesSettings) -> dict[str, str]:
    """What marks every object of this installation (that this version makes)."""
    return {**fleet_selector(), INSTANCE_LABEL: settings.instance}


def is_legacy(item: dict[str, Any]) -> bool:
    """Made by a version that put the installation in ``LEGACY_INSTANCE_LABEL``."""
    return LEGACY_INSTANCE_LABEL in (item["metadata"].get("labels") or {})


def belongs(item: dict[str, Any], settings: KubernetesSettings) -> bool:
    """Whether an object of ``fleet_selector`` is this installation's, whichever version made it."""
    found = item["metadata"].get("labels") or {}
    # An earlier version's object of another installation may have this installation's
    # name in app.kubernetes.io/instance (as its task name): its legacy label decides.
    key = LEGACY_INSTANCE_LABEL if is_legacy(item) else INSTANCE_LABEL
    return found.get(key) == settings.instance


def relabelling(deployment: ServerDeployment, settings: KubernetesSettings) -> dict[str, str | None]:
    """A merge patch of an earlier version's labels to this version's (None removes one)."""
    return {LEGACY_INSTANCE_LABEL: None, **labels(deployment, settings)}


def label_selector(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


def labels(deployment: ServerDeployment, settings: KubernetesSettings) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "fedops-server",
        **managed(settings),
        **selector(deployment.task_id),
        TASK_NAME_LABEL: deployment.task_name,  # a DNS label, so a valid label value
    }


def token_secret_name(task_id: str, token: str) -> str:
    """Named after the token: a new token is a new Secret, so it is only ever created."""
    return f"{object_name(task_id)}-{hashlib.sha256(token.encode()).hexdigest()[:10]}"


def server_objects(
    deployment: ServerDeployment, settings: KubernetesSettings, namespace: str, token_secret: str
) -> ServerObjects:
    config = config_map(deployment, settings, namespace)
    return ServerObjects(
        config_map=config,
        persistent_volume_claim=persistent_volume_claim(deployment, settings, namespace),
        service=service(deployment, settings, namespace),
        deployment=_deployment(deployment, settings, namespace, token_secret, _hash(config["data"])),
    )


def config_map(deployment: ServerDeployment, settings: KubernetesSettings, namespace: str) -> dict[str, Any]:
    # An allow-list, not whatever the registry was given: the pod's processes (SuperLink,
    # the ServerApp running a task's strategy code) see all of it.
    env = {
        **server_environment(deployment.env),
        "FEDOPS_FLEET_HOST": "0.0.0.0",  # all of the pod's interfaces; the Service exposes the port
        "FEDOPS_FLEET_PORT": str(settings.fleet_port),
        "FLWR_HOME": f"{DATA_MOUNT}/flwr-home",
        "HOME": "/tmp",  # noqa: S108 - an emptyDir: the root filesystem is read-only
    }
    if settings.fleet_tls_secret:  # the registry's own paths mean nothing inside the pod
        env |= {
            "FEDOPS_FLEET_TLS_CERT": f"{TLS_MOUNT}/tls.crt",
            "FEDOPS_FLEET_TLS_KEY": f"{TLS_MOUNT}/tls.key",
            "FEDOPS_FLEET_TLS_CA": f"{TLS_MOUNT}/ca.crt",
        }
    return _object("v1", "ConfigMap", deployment, settings, namespace) | {"data": dict(sorted(env.items()))}


def persistent_volume_claim(
    deployment: ServerDeployment, settings: KubernetesSettings, namespace: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": deployment.resources.storage}},
    }
    if settings.storage_class is not None:
        spec["storageClassName"] = settings.storage_class
    return _object("v1", "PersistentVolumeClaim", deployment, settings, namespace) | {"spec": spec}


def service(deployment: ServerDeployment, settings: KubernetesSettings, namespace: str) -> dict[str, Any]:
    return _object("v1", "Service", deployment, settings, namespace) | {
        "spec": {
            "type": settings.service_type or "ClusterIP",  # unset only outside the registry (tests)
            "selector": selector(deployment.task_id),
            "ports": [
                {"name": "fleet", "port": settings.fleet_port, "targetPort": "fleet", "protocol": "TCP"}
            ],
        }
    }


def token_secret(
    deployment: ServerDeployment,
    settings: KubernetesSettings,
    namespace: str,
    name: str,
    owner: dict[str, Any],
) -> dict[str, Any]:
    """The server's credentials, owned by its Deployment: deleting that collects it."""
    secret = _object("v1", "Secret", deployment, settings, namespace)
    secret["metadata"]["name"] = name
    secret["metadata"]["ownerReferences"] = [owner]
    return secret | {"type": "Opaque", "stringData": secret_environment(deployment.secret_env or {})}


def resource_requirements(resources: ResourcesSpec) -> dict[str, dict[str, str]]:
    """Requests equal to limits: a server is never throttled below what was asked for,
    and extended resources (GPUs) must be requested exactly as limited anyway."""
    quantities = {"cpu": resources.cpu, "memory": resources.memory}
    if resources.gpu:
        quantities[GPU_RESOURCE] = str(resources.gpu)
    return {"requests": dict(quantities), "limits": dict(quantities)}


def _deployment(
    deployment: ServerDeployment,
    settings: KubernetesSettings,
    namespace: str,
    token_secret: str,
    config_hash: str,
) -> dict[str, Any]:
    name = object_name(deployment.task_id)
    scheme = "HTTPS" if settings.fleet_tls_secret else "HTTP"
    probe = {"httpGet": {"path": "/health", "port": "fleet", "scheme": scheme}, "periodSeconds": 5}
    volumes: list[dict[str, Any]] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": name}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "data", "mountPath": DATA_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
    ]
    if settings.fleet_tls_secret:
        volumes.append({"name": "fleet-tls", "secret": {"secretName": settings.fleet_tls_secret}})
        mounts.append({"name": "fleet-tls", "mountPath": TLS_MOUNT, "readOnly": True})
    container = {
        "name": CONTAINER,
        "image": settings.server_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["fedops-server", "--data-dir", DATA_MOUNT],
        "ports": [{"name": "fleet", "containerPort": settings.fleet_port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": name}}],
        "env": [
            {
                "name": key,
                "valueFrom": {"secretKeyRef": {"name": token_secret, "key": key}},
            }
            for key in sorted(secret_environment(deployment.secret_env or {}) or SECRET_NAMES)
        ],
        "resources": resource_requirements(deployment.resources),
        # A failed container's log tail becomes its termination message: the status then
        # says why the server exited (e.g. its SuperLink died), not only that it did.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "readinessProbe": probe | {"initialDelaySeconds": 2},
        "livenessProbe": probe | {"initialDelaySeconds": 30, "failureThreshold": 6},
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,  # the FL server never calls the Kubernetes API
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "runAsGroup": RUNTIME_UID,
            "fsGroup": RUNTIME_UID,
            "fsGroupChangePolicy": "OnRootMismatch",  # no re-chown of a big volume at every start
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if settings.server_service_account:
        pod_spec["serviceAccountName"] = settings.server_service_account
    manifest = _object("apps/v1", "Deployment", deployment, settings, namespace)
    manifest["metadata"]["annotations"][TOKEN_SECRET_ANNOTATION] = token_secret
    return manifest | {
        "spec": {
            "replicas": deployment.replicas,
            # Replicas share one volume and a server keeps its state there: never run the
            # old and the new version of a server side by side during a rollout.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(deployment.task_id)},
            "template": {
                "metadata": {
                    "labels": labels(deployment, settings),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": pod_spec,
            },
        }
    }


def _object(
    api_version: str, kind: str, deployment: ServerDeployment, settings: KubernetesSettings, namespace: str
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": object_name(deployment.task_id),
            "namespace": namespace,
            "labels": labels(deployment, settings),
            "annotations": {"fedops.io/task-name": deployment.task_name},
        },
    }


def _hash(data: dict[str, str]) -> str:
    """Changes when the settings change, so pods restart to read them (envFrom is read once)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
