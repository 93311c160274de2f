"""FL server objects are labelled as Helm labels a release (app.kubernetes.io/instance is the
installation), and objects of earlier versions (labelled the other way round) still count
as the installation's that made them."""

from __future__ import annotations

from typing import Any

from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.base import ServerDeployment
from fedops_services.provisioners.kubernetes import objects

TASK = "0123456789abcdef0123456789abcdef"
SETTINGS = KubernetesSettings(namespace="fl", instance="team-a")
DEPLOYMENT = ServerDeployment(
    task_id=TASK, task_name="mnist-xai", replicas=1, resources=ResourcesSpec(), env={}, secret_env=None
)


def _labelled(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": objects.object_name(TASK), "labels": labels}}


def _legacy(installation: str, task_name: str) -> dict[str, Any]:
    """What versions before this one labelled a task's objects with."""
    return _labelled(**{
        "app.kubernetes.io/name": "fedops-server",
        "app.kubernetes.io/instance": task_name,
        "app.kubernetes.io/managed-by": "fedops",
        "app.kubernetes.io/component": "fl-server",
        "fedops.io/instance": installation,
        "fedops.io/task-id": TASK,
    })  # fmt: skip


def test_every_object_names_the_installation_in_app_kubernetes_io_instance() -> None:
    built = objects.server_objects(DEPLOYMENT, SETTINGS, "fl", "secret")
    manifests = [built.config_map, built.persistent_volume_claim, built.service, built.deployment]
    pod_template = built.deployment["spec"]["template"]

    for labels in [m["metadata"]["labels"] for m in manifests] + [pod_template["metadata"]["labels"]]:
        assert labels == {
            "app.kubernetes.io/name": "fedops-server",
            "app.kubernetes.io/instance": "team-a",
            "app.kubernetes.io/managed-by": "fedops",
            "app.kubernetes.io/component": "fl-server",
            "fedops.io/task-id": TASK,
            "fedops.io/task-name": "mnist-xai",
        }
    # The selector is what it was before the labels changed (a Deployment's is immutable).
    assert built.deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/component": "fl-server",
        "fedops.io/task-id": TASK,
    }
    assert all(objects.belongs(m, SETTINGS) and not objects.is_legacy(m) for m in manifests)


def test_objects_of_another_installation_are_not_ours() -> None:
    theirs = objects.server_objects(DEPLOYMENT, KubernetesSettings(instance="team-b"), "fl", "secret")

    assert not objects.belongs(theirs.deployment, SETTINGS)


def test_an_earlier_version_s_objects_belong_by_their_legacy_installation_label() -> None:
    assert objects.belongs(_legacy("team-a", "mnist-xai"), SETTINGS)
    assert objects.is_legacy(_legacy("team-a", "mnist-xai"))
    # Another installation's task named like this installation is still theirs.
    assert not objects.belongs(_legacy("team-b", "team-a"), SETTINGS)


def test_relabelling_turns_legacy_labels_into_this_version_s() -> None:
    item = _legacy("team-a", "mnist-xai")
    patch = objects.relabelling(DEPLOYMENT, SETTINGS)

    merged = {k: v for k, v in (item["metadata"]["labels"] | patch).items() if v is not None}
    assert merged == objects.server_objects(DEPLOYMENT, SETTINGS, "fl", "s").service["metadata"]["labels"]
