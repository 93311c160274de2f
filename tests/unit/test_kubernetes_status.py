"""How the kubernetes provisioner explains a server's state from the API's documents.

The test cluster shows some of these for real (tests/kubernetes); the cases here are the
ones it cannot produce: WaitForFirstConsumer volumes, mounts failing behind
ContainerCreating, rollouts stuck on a quota, repeated events.
"""

from __future__ import annotations

from typing import Any

from fedops.api.schemas import PodStatus
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.kubernetes.status import (
    describe_pod,
    exposure_note,
    latest_warning,
    secret_missing,
    summarize,
)


def _deployment(replicas: int = 1, available: int = 0, **status: Any) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}, "status": {"availableReplicas": available, **status}}


def _pending(reason: str) -> PodStatus:
    return PodStatus(name="server-abc", phase="Pending", ready=False, reason=reason)


def test_a_pod_that_cannot_be_scheduled_is_named_before_a_volume_waiting_for_it() -> None:
    # WaitForFirstConsumer: the claim stays Pending until a pod is scheduled.
    reason = summarize(
        _deployment(), [_pending("FailedScheduling: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu")],
        volume_phase="Pending", volume_warning="",
    )  # fmt: skip

    assert "Insufficient nvidia.com/gpu" in reason and "volume" not in reason


def test_a_pending_volume_is_the_reason_when_no_pod_explains_more() -> None:
    reason = summarize(
        _deployment(), [_pending("")], volume_phase="Pending", volume_warning="ProvisioningFailed: no class"
    )

    assert reason == "volume Pending: ProvisioningFailed: no class"


def test_a_quota_that_refuses_pods_is_reported() -> None:
    failure = {"type": "ReplicaFailure", "status": "True", "message": "exceeded quota: gpu"}

    reason = summarize(_deployment(conditions=[failure]), [], volume_phase="Bound", volume_warning="")

    assert reason == "cannot create pods: exceeded quota: gpu"


def test_available_paused_and_rolling_out() -> None:
    ready = PodStatus(name="server-abc", phase="Running", ready=True)

    assert summarize(_deployment(available=1), [ready], "Bound", "") == "available: 1/1 replicas ready"
    assert summarize(_deployment(replicas=0), [], "Bound", "") == "paused (0 replicas)"
    assert summarize(_deployment(replicas=2, available=1, updatedReplicas=1), [ready], "Bound", "") == (
        "rolling out: 1/2 updated, 1 available"
    )


def test_container_creating_gives_way_to_the_warning_behind_it() -> None:
    pod = {
        "metadata": {"name": "server-abc"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}],
        },
    }
    image = {
        "metadata": {"name": "server-abc"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}
            ],
        },
    }

    assert describe_pod(pod, "FailedMount: secret fleet-tls not found").reason == (
        "FailedMount: secret fleet-tls not found"
    )
    assert describe_pod(image, "Failed: pull").reason == "ImagePullBackOff: not found"


def test_the_newest_warning_counts_repeats_of_a_series() -> None:
    t = "2026-01-01T00:{}:00Z".format
    events: list[dict[str, Any]] = [
        {"type": "Warning", "reason": "FailedScheduling", "message": "old", "eventTime": t("00"),
         "series": {"lastObservedTime": t("10")}},
        {"type": "Warning", "reason": "FailedMount", "message": "newer first", "lastTimestamp": t("05")},
        {"type": "Normal", "reason": "Scheduled", "message": "ignored", "lastTimestamp": t("20")},
    ]  # fmt: skip

    assert latest_warning(events) == "FailedScheduling: old"
    assert latest_warning(events[2:]) == ""


def test_a_crash_looping_server_says_how_it_exited_and_its_last_log_line() -> None:
    pod = {
        "metadata": {"name": "server-abc"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": "INFO starting\nERROR SuperLink exited with code 3; stopping\n",
                        }
                    },
                }
            ],
        },
    }

    described = describe_pod(pod, warning="BackOff: Back-off restarting failed container")

    assert described.reason == (
        "CrashLoopBackOff: back-off 20s; "
        "the FL server exited with code 1: ERROR SuperLink exited with code 3; stopping"
    )
    reason = summarize(_deployment(), [described], volume_phase="Bound", volume_warning="")
    assert "exited with code 1: ERROR SuperLink exited with code 3" in reason


def test_the_status_says_when_edge_machines_cannot_reach_the_fleet_address() -> None:
    in_cluster = KubernetesSettings(service_type="ClusterIP")
    routed = KubernetesSettings(service_type="ClusterIP", fleet_address="{task_name}.fl.example.org:443")
    balanced = KubernetesSettings(service_type="LoadBalancer")

    note = exposure_note(in_cluster, "fedops-server-x.fl.svc:9092")
    assert "cannot reach fedops-server-x.fl.svc:9092" in note and "FEDOPS_KUBERNETES_SERVICE_TYPE" in note
    assert exposure_note(KubernetesSettings(), "x.fl.svc:9092") == exposure_note(in_cluster, "x.fl.svc:9092")
    assert exposure_note(routed, "mnist.fl.example.org:443") == ""
    assert (
        exposure_note(balanced, None)
        == "; no fleet address yet: waiting for the LoadBalancer's external address"
    )
    assert exposure_note(balanced, "203.0.113.7:9092") == ""


def test_a_token_secret_deleted_under_a_running_deployment_is_recognised() -> None:
    def pod(reason: str, message: str) -> dict[str, Any]:
        waiting = {"reason": reason, "message": message}
        return {"metadata": {"name": "p"}, "status": {"containerStatuses": [{"state": {"waiting": waiting}}]}}

    gone = pod("CreateContainerConfigError", 'secret "fedops-server-x-0123456789" not found')

    assert secret_missing([gone], "fedops-server-x-0123456789")
    assert not secret_missing([gone], "fedops-server-x-other")
    assert not secret_missing(
        [pod("CreateContainerConfigError", 'configmap "x" not found')], "fedops-server-x"
    )
    assert not secret_missing(
        [{"metadata": {"name": "p"}, "status": {"phase": "Running"}}], "fedops-server-x"
    )
