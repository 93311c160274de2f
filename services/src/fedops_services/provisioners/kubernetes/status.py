"""Turning what the Kubernetes API reports into one readable server status.

The question an operator asks is "why is my server not up?". The answer is spread over
the Deployment (replica counts, conditions), its pods (phase, readiness, waiting
reasons), the volume claim (phase) and events (the scheduler's "0/1 nodes are
available: Insufficient nvidia.com/gpu"). This module picks the most telling of them.
Inputs are the API's JSON documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fedops.api.schemas import PodStatus
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.kubernetes.api import Json

__all__ = [
    "describe_pod",
    "exposure_note",
    "is_ready",
    "latest_warning",
    "restart_count",
    "secret_missing",
    "summarize",
]

_UNINFORMATIVE_WAITING = ("ContainerCreating", "PodInitializing")


def is_ready(pod: Json) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def restart_count(pod: Json) -> int:
    """How often the kubelet restarted the pod's containers (init containers included)."""
    status = pod.get("status", {})
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return sum(int(container.get("restartCount") or 0) for container in containers)


def describe_pod(pod: Json, warning: str) -> PodStatus:
    status = pod.get("status", {})
    ready = is_ready(pod)
    waiting = _waiting_reason(status)
    # "ContainerCreating" says less than the warning behind it (e.g. FailedMount).
    if waiting.startswith(_UNINFORMATIVE_WAITING) and warning:
        waiting = ""
    crashed = _last_termination(status)
    if waiting and crashed:  # CrashLoopBackOff says that it crashed; this says why
        waiting = f"{waiting}; {crashed}"
    reason = "" if ready else (waiting or crashed or warning or _condition_message(status))
    return PodStatus(
        name=pod["metadata"]["name"], phase=status.get("phase") or "Unknown", ready=ready, reason=reason
    )


def latest_warning(events: Sequence[Json]) -> str:
    """The newest Warning event as "Reason: message" (empty when there is none)."""
    warnings = [event for event in events if event.get("type") == "Warning"]
    if not warnings:
        return ""
    newest = max(warnings, key=_event_time)
    return f"{newest.get('reason', 'Warning')}: {(newest.get('message') or '').strip()}"


def summarize(deployment: Json, pods: Sequence[PodStatus], volume_phase: str, volume_warning: str) -> str:
    wanted = deployment.get("spec", {}).get("replicas") or 0
    status = deployment.get("status", {})
    available = status.get("availableReplicas") or 0
    if wanted == 0:
        return "paused (0 replicas)" if not pods else f"pausing: {len(pods)} pod(s) stopping"
    if failing := _failing_condition(status):
        return failing
    waiting = [pod for pod in pods if not pod.ready]
    if available >= wanted and not waiting and volume_phase == "Bound":
        return f"available: {available}/{wanted} replicas ready"
    # A pod's own reason first: with WaitForFirstConsumer classes the volume stays Pending
    # until a pod is scheduled, so "volume Pending" would hide "Insufficient nvidia.com/gpu".
    explained = [pod for pod in waiting if pod.reason]
    if explained or (waiting and volume_phase == "Bound"):
        first = (explained or waiting)[0]
        detail = f": {first.reason}" if first.reason else ""
        return f"{len(waiting)} of {len(pods)} pod(s) not ready; {first.name} is {first.phase}{detail}"
    if volume_phase != "Bound":
        return f"volume {volume_phase}" + (f": {volume_warning}" if volume_warning else "")
    updated = status.get("updatedReplicas") or 0
    return f"rolling out: {updated}/{wanted} updated, {available} available"


def exposure_note(settings: KubernetesSettings, fleet_address: str | None) -> str:
    """What to add to the status when edge machines cannot use the fleet address (empty
    when they can): an in-cluster name, or no address yet."""
    if not settings.edge_reachable:
        return (
            f"; edge machines outside the cluster cannot reach {fleet_address or 'this server'} (a ClusterIP "
            "Service): set FEDOPS_KUBERNETES_SERVICE_TYPE to NodePort or LoadBalancer, or "
            "FEDOPS_KUBERNETES_FLEET_ADDRESS to what routes to it"
        )
    if fleet_address is None and settings.service_type == "LoadBalancer":
        return "; no fleet address yet: waiting for the LoadBalancer's external address"
    if fleet_address is None:
        return "; no fleet address yet"
    return ""


def secret_missing(pods: Sequence[Json], secret: str) -> bool:
    """Whether the kubelet cannot start a server's container because its token Secret is
    gone (deleted by hand while the Deployment stayed): the Secret cannot be read back
    (fedops may only create Secrets), but this waiting reason names it."""
    for pod in pods:
        for container in pod.get("status", {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            message = str(waiting.get("message") or "")
            if (
                waiting.get("reason") == "CreateContainerConfigError"
                and f'secret "{secret}" not found' in message
            ):
                return True
    return False


def _failing_condition(status: Json) -> str:
    """ReplicaFailure (e.g. a quota refused the pods) or a rollout past its deadline."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return f"cannot create pods: {condition.get('message', '')}"
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"rollout stalled: {condition.get('message', '')}"
    return ""


def _waiting_reason(status: Json) -> str:
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            message = waiting.get("message")
            return f"{waiting['reason']}: {message}" if message else str(waiting["reason"])
    return ""


def _last_termination(status: Json) -> str:
    """How the server container last ended, with its last log line: the pod's container
    has ``terminationMessagePolicy: FallbackToLogsOnError``, so the kubelet puts the tail
    of its log into the message when it fails."""
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("lastState") or {}).get("terminated") or {}
        if terminated:
            text = f"the FL server exited with code {terminated.get('exitCode')}"
            lines = [
                line.strip() for line in str(terminated.get("message") or "").splitlines() if line.strip()
            ]
            return f"{text}: {lines[-1][:300]}" if lines else text
    return ""


def _condition_message(status: Json) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True" and condition.get("message"):
            reason = condition.get("reason")
            return f"{reason}: {condition['message']}" if reason else str(condition["message"])
    return ""


def _event_time(event: Json) -> datetime:
    """When an event last happened: repeated events (a series) move their last time on."""
    moment = (
        (event.get("series") or {}).get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
    )
    try:
        return datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
