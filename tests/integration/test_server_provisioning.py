"""Server management over REST: the same tests against both provisioners.

``local`` runs a real supervised process per task (a tiny HTTP server stands in for the
FL server); ``kubernetes`` talks to a real control plane (apiserver, controllers,
scheduler, kwok node). What differs between them is only how a test looks behind the
API: which server instance runs now, and what is left after a delete.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from fedops.spec.task import ResourcesSpec
from fedops_services.app import create_app
from fedops_services.config import KubernetesSettings, Settings
from fedops_services.provisioners import ServerDeployment
from fedops_services.provisioners.kubernetes.objects import object_name
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import bearer, create_task, enroll, error_code
from tests.support.kube_cluster import POD_LOG_LINES, KubeCluster
from tests.support.processes import pid_running, wait_until
from tooling.local_federation import kill_supervisors

pytestmark = pytest.mark.slow


class Backend(Protocol):
    name: str
    log_line: str  # a line the server's log must contain

    def instances(self, task_id: str) -> list[str]:
        """Identities of the server instances running now (pids, pod uids)."""

    def leftovers(self, task_id: str) -> list[str]:
        """Whatever the backend still holds for the task."""

    def token(self, task_id: str) -> str | None:
        """The server token the backend holds for the task's server, if any."""

    def lose_token(self, task_id: str) -> None:
        """Lose the server's token as an operator's mistake would."""


class LocalBackend:
    name = "local"
    log_line = "[supervisor] starting"

    def __init__(self, servers_dir: Path) -> None:
        self.servers_dir = servers_dir

    def instances(self, task_id: str) -> list[str]:
        status_file = self.servers_dir / task_id / "status.json"
        if not status_file.exists():
            return []
        pid = json.loads(status_file.read_text()).get("child_pid")
        return [str(pid)] if isinstance(pid, int) and pid_running(pid) else []

    def leftovers(self, task_id: str) -> list[str]:
        task_dir = self.servers_dir / task_id
        return [str(task_dir)] if task_dir.exists() else []

    def token(self, task_id: str) -> str | None:
        try:
            document = json.loads((self.servers_dir / task_id / "deployment.json").read_text())
        except (OSError, ValueError):
            return None
        token = document.get("secret_env", {}).get("FEDOPS_SERVER_TOKEN")
        return token if isinstance(token, str) else None

    def lose_token(self, task_id: str) -> None:
        (self.servers_dir / task_id / "deployment.json").unlink()


class KubernetesBackend:
    name = "kubernetes"
    log_line = POD_LOG_LINES[-1]

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def _objects(self, kinds: str, task_id: str) -> list[dict[str, Any]]:
        result = self.cluster.kubectl(
            "get", kinds, "-n", self.namespace, "-l", f"fedops.io/task-id={task_id}", "-o", "json"
        )
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items

    def instances(self, task_id: str) -> list[str]:
        pods = self._objects("pods", task_id)
        return sorted(
            pod["metadata"]["uid"]
            for pod in pods
            if pod["status"].get("phase") == "Running" and "deletionTimestamp" not in pod["metadata"]
        )

    def leftovers(self, task_id: str) -> list[str]:
        kinds = "deployments,replicasets,pods,services,persistentvolumeclaims,configmaps,secrets"
        return [f"{item['kind']}/{item['metadata']['name']}" for item in self._objects(kinds, task_id)]

    def token(self, task_id: str) -> str | None:
        deployments = self._objects("deployments", task_id)
        if not deployments:
            return None
        secret_name = deployments[0]["metadata"]["annotations"]["fedops.io/token-secret"]
        secrets = [
            item for item in self._objects("secrets", task_id) if item["metadata"]["name"] == secret_name
        ]
        if not secrets:
            return None
        return base64.b64decode(secrets[0]["data"]["FEDOPS_SERVER_TOKEN"]).decode()

    def lose_token(self, task_id: str) -> None:
        # Deleting the Deployment by hand: the garbage collector takes its token Secret along.
        self.cluster.kubectl(
            "delete", "deployment", object_name(task_id), "-n", self.namespace, "--wait=false"
        )


@pytest.fixture(params=["local", pytest.param("kubernetes", marks=pytest.mark.kubernetes)])
def backend_api(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[TestClient, Backend]]:
    backend: Backend
    if request.param == "kubernetes":
        cluster: KubeCluster = request.getfixturevalue("kube_cluster")
        namespace: str = request.getfixturevalue("kube_namespace")
        settings = settings.model_copy(
            update={
                "provisioner": "kubernetes",
                "kubernetes": KubernetesSettings(namespace=namespace, kubeconfig=cluster.kubeconfig),
            }
        )
        backend = KubernetesBackend(cluster, namespace)
    else:
        backend = LocalBackend(settings.servers_dir)
    app = create_app(settings)
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
            yield client, backend
    finally:
        kill_supervisors(settings.servers_dir)


def _status(api: TestClient, task_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/tasks/{task_id}/server")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_available(api: TestClient, task_id: str, replicas: int = 1) -> dict[str, Any]:
    def done() -> bool:
        status = _status(api, task_id)
        return bool(status["available_replicas"] == replicas and status["ready_replicas"] == replicas)

    wait_until(done, timeout=60, interval=0.3, what=f"{replicas} available replica(s)")
    return _status(api, task_id)


def _provisioned(api: TestClient) -> tuple[dict[str, Any], str]:
    """A task whose server is up; returns it and its server URL."""
    task = create_task(api)
    url = f"/api/v1/tasks/{task['id']}/server"
    api.post(url)
    _wait_available(api, task["id"])
    return task, url


def test_provision_reaches_ready_and_the_poll_says_so(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task = create_task(api)
    client = enroll(api, task["id"])

    provisioned = api.post(f"/api/v1/tasks/{task['id']}/server")
    status = _wait_available(api, task["id"])

    assert provisioned.status_code == 202 and provisioned.json()["provisioner"] == backend.name
    assert status["replicas"] == 1 and status["volume_phase"] == "Bound" and status["fleet_address"]
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "ready"
    state = api.get(f"/api/v1/tasks/{task['id']}/manager-state", headers=bearer(client["credential"])).json()
    assert state["server_ready"] is True and state["fleet_address"] == status["fleet_address"]
    wait_until(
        lambda: backend.log_line in str(api.get(f"/api/v1/tasks/{task['id']}/server/logs").json()["lines"]),
        timeout=20,
        what="the server's log",
    )
    assert len(backend.instances(task["id"])) == 1


def test_pause_stops_the_server_and_resume_starts_it(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, _ = _provisioned(api)
    first = backend.instances(task["id"])

    paused = api.post(f"/api/v1/tasks/{task['id']}/server/pause").json()
    wait_until(lambda: not backend.instances(task["id"]), timeout=30, what="the server to stop")

    assert paused["paused"] is True and paused["replicas"] == 0
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "provisioning"
    wait_until(lambda: _status(api, task["id"])["ready_replicas"] == 0, timeout=30, what="0 ready replicas")

    api.post(f"/api/v1/tasks/{task['id']}/server/resume")
    resumed = _wait_available(api, task["id"])
    assert resumed["paused"] is False and backend.instances(task["id"]) not in ([], first)


def test_changing_resources_rolls_out_a_new_server(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, url = _provisioned(api)
    first = backend.instances(task["id"])

    bad_gpu = api.patch(url, json={"gpu": "0.5"})
    scaled = api.patch(url, json={"cpu": "2", "memory": "1Gi"})

    assert bad_gpu.status_code == 422 and "gpu" in bad_gpu.json()["error"]["message"]
    assert scaled.status_code == 200 and scaled.json()["resources"]["cpu"] == "2"
    revisions = api.get(f"/api/v1/tasks/{task['id']}/revisions").json()["data"]
    assert [r["spec"]["resources"]["cpu"] for r in revisions] == ["1", "2"]
    wait_until(
        lambda: backend.instances(task["id"]) not in ([], first), timeout=60, what="a rollout to a new server"
    )
    _wait_available(api, task["id"])


def test_a_server_has_at_most_one_replica_on_every_backend(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, url = _provisioned(api)

    two = api.patch(url, json={"replicas": 2})

    # Two SuperLinks would share one state file and one ReadWriteOnce volume: refused as a
    # field error, and the refusal changes nothing.
    assert two.status_code == 422 and error_code(two) == "validation_error"
    (detail,) = two.json()["error"]["details"]
    assert detail["field"] == "replicas" and "at most 1" in detail["message"] and "cpu" in detail["message"]
    assert len(api.get(f"/api/v1/tasks/{task['id']}/revisions").json()["data"]) == 1
    assert len(backend.instances(task["id"])) == 1


def test_a_lost_server_token_is_reissued_by_the_reconciler(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, _ = _provisioned(api)
    old = backend.token(task["id"])
    assert old is not None and api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(old)).status_code == 200

    backend.lose_token(task["id"])

    wait_until(lambda: backend.token(task["id"]) not in (None, old), timeout=60, what="a new server token")
    new = backend.token(task["id"])
    assert new is not None and new.startswith("fedops_srv_")
    _wait_available(api, task["id"])
    # Its hash replaced the old one: the new token is the server's credential, the old one is dead.
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(new)).status_code == 200
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(old)).status_code == 401


def test_runs_start_only_on_a_ready_server(backend_api: tuple[TestClient, Backend]) -> None:
    api, _ = backend_api
    task = create_task(api)
    url = f"/api/v1/tasks/{task['id']}/server"

    not_provisioned = api.post(f"{url}/run")
    api.post(url)
    _wait_available(api, task["id"])
    started = api.post(f"{url}/run")
    stopped = api.delete(f"{url}/run")

    assert not_provisioned.status_code == 409 and error_code(not_provisioned) == "invalid_state"
    assert started.json()["status"] == "running"
    assert stopped.json()["status"] == "stopped"


def test_delete_leaves_nothing_behind(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, _ = _provisioned(api)
    assert backend.leftovers(task["id"])

    deleted = api.delete(f"/api/v1/tasks/{task['id']}/server")

    assert deleted.status_code == 204
    wait_until(lambda: not backend.leftovers(task["id"]), timeout=60, what="nothing left of the server")
    assert error_code(api.get(f"/api/v1/tasks/{task['id']}/server")) == "server_not_provisioned"
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "created"


def test_deleting_a_task_removes_its_server(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    task, _ = _provisioned(api)

    assert api.delete(f"/api/v1/tasks/{task['id']}").status_code == 204
    wait_until(lambda: not backend.leftovers(task["id"]), timeout=60, what="nothing left of the server")


def test_servers_no_task_owns_are_removed_by_the_reconciler(backend_api: tuple[TestClient, Backend]) -> None:
    api, backend = backend_api
    services = api.app.state.services  # type: ignore[attr-defined]
    orphan = uuid.uuid4().hex
    services.provisioner.apply(
        ServerDeployment(
            task_id=orphan,
            task_name="orphan",
            replicas=1,
            resources=ResourcesSpec(),
            secret_env={"FEDOPS_SERVER_TOKEN": "orphan-token"},
        )
    )
    assert backend.leftovers(orphan)

    services.reconciler.reconcile_all()

    wait_until(lambda: not backend.leftovers(orphan), timeout=60, what="the orphan removed")
