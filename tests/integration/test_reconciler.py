"""The reconciler's promises, against an in-memory provisioner that can refuse or lose a token.

A request the provisioner refuses changes nothing (the desired state is recorded and
applied in one transaction); the server lock is the reconciler's alone; credentials a
change revokes stop working at once, not when their cache entry expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fedops_services.app import create_app
from fedops_services.config import Settings
from fedops_services.container import Services, build_services
from fedops_services.provisioners import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
)
from fedops_services.store import servers as server_store
from fedops_services.store import tasks as task_store
from tests.conftest import ADMIN_TOKEN
from tests.integration.helpers import bearer, create_task, enroll, error_code


class ScriptedProvisioner(Provisioner):
    """Runs nothing: what was applied is "running" and ready at once."""

    name = "scripted"

    def __init__(self) -> None:
        self.running: dict[str, ServerDeployment] = {}
        self.refusal: ProvisionerError | None = None

    def apply(self, deployment: ServerDeployment) -> None:
        if self.refusal is not None:
            raise self.refusal
        kept = self.running.get(deployment.task_id)
        if deployment.secret_env is None:
            if kept is None or kept.secret_env is None:
                raise CredentialsMissingError("no server token is kept for this task")
            deployment = replace(deployment, secret_env=kept.secret_env)
        self.running[deployment.task_id] = deployment

    def observe(self, task_id: str) -> ObservedServer:
        deployment = self.running.get(task_id)
        if deployment is None:
            return ObservedServer(exists=False, reason="not running")
        replicas = deployment.replicas
        return ObservedServer(
            exists=True, replicas=replicas, ready_replicas=replicas, available_replicas=replicas
        )

    def logs(self, task_id: str, tail: int) -> list[str]:
        return []

    def delete(self, task_id: str) -> None:
        self.running.pop(task_id, None)

    def managed_task_ids(self) -> set[str]:
        return set(self.running)

    def token(self, task_id: str) -> str:
        secret_env = self.running[task_id].secret_env
        assert secret_env is not None
        return secret_env["FEDOPS_SERVER_TOKEN"]

    def lose_token(self, task_id: str) -> None:
        self.running[task_id] = replace(self.running[task_id], secret_env=None)


@pytest.fixture
def wired(settings: Settings) -> Iterator[tuple[TestClient, Services, ScriptedProvisioner]]:
    provisioner = ScriptedProvisioner()
    services = build_services(settings, provisioner=provisioner)
    app = create_app(settings, services=services, reconcile=False)
    try:
        with TestClient(app, headers=bearer(ADMIN_TOKEN)) as api:
            yield api, services, provisioner
    finally:
        services.close()


def _provisioned(api: TestClient) -> dict[str, Any]:
    task = create_task(api)
    assert api.post(f"/api/v1/tasks/{task['id']}/server").status_code == 202
    return task


def _revisions(api: TestClient, task_id: str) -> list[int]:
    return [r["revision"] for r in api.get(f"/api/v1/tasks/{task_id}/revisions").json()["data"]]


REFUSAL = ProvisionerError("no node has 64 CPUs", unsupported=True)


def test_a_scale_the_provisioner_refuses_changes_nothing(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, _, provisioner = wired
    task = _provisioned(api)
    before = api.get(f"/api/v1/tasks/{task['id']}/server").json()

    provisioner.refusal = REFUSAL
    refused = api.patch(f"/api/v1/tasks/{task['id']}/server", json={"cpu": "64"})
    provisioner.refusal = None

    assert refused.status_code == 422 and error_code(refused) == "unsupported_by_provisioner"
    assert _revisions(api, task["id"]) == [1]
    assert api.get(f"/api/v1/tasks/{task['id']}/server").json()["resources"] == before["resources"]
    assert provisioner.running[task["id"]].resources.cpu == "1"


def test_a_spec_update_the_provisioner_refuses_changes_nothing(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, _, provisioner = wired
    task = _provisioned(api)

    provisioner.refusal = REFUSAL
    refused = api.put(f"/api/v1/tasks/{task['id']}", json={**task["spec"], "resources": {"cpu": "64"}})
    provisioner.refusal = None

    assert refused.status_code == 422 and error_code(refused) == "unsupported_by_provisioner"
    assert _revisions(api, task["id"]) == [1]
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["spec"] == task["spec"]


def test_a_provisioning_the_provisioner_refuses_leaves_no_server(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, _, provisioner = wired
    task = create_task(api)

    provisioner.refusal = ProvisionerError("the cluster is unreachable")
    refused = api.post(f"/api/v1/tasks/{task['id']}/server")

    assert refused.status_code == 503 and error_code(refused) == "provisioner_failed"
    assert error_code(api.get(f"/api/v1/tasks/{task['id']}/server")) == "server_not_provisioned"
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "created"


def test_a_reissued_server_token_ends_the_cached_old_one_at_once(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, services, provisioner = wired
    task = _provisioned(api)
    old = provisioner.token(task["id"])
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(old)).status_code == 200  # now cached

    provisioner.lose_token(task["id"])
    services.reconciler.reconcile_all()

    new = provisioner.token(task["id"])
    assert new != old
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(new)).status_code == 200
    assert error_code(api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(old))) == "unauthenticated"


def test_deleting_a_task_ends_its_cached_credentials_at_once(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, _, provisioner = wired
    task = _provisioned(api)
    client = enroll(api, task["id"])
    credentials = [client["credential"], provisioner.token(task["id"])]
    for credential in credentials:  # now cached
        assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(credential)).status_code == 200

    assert api.delete(f"/api/v1/tasks/{task['id']}").status_code == 204

    for credential in credentials:
        assert (
            error_code(api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(credential)))
            == "unauthenticated"
        )
    assert task["id"] not in provisioner.running


def test_deleting_a_server_ends_its_cached_token_at_once(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, _, provisioner = wired
    task = _provisioned(api)
    token = provisioner.token(task["id"])
    assert api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(token)).status_code == 200  # now cached

    assert api.delete(f"/api/v1/tasks/{task['id']}/server").status_code == 204

    assert error_code(api.get(f"/api/v1/tasks/{task['id']}", headers=bearer(token))) == "unauthenticated"


def test_a_server_is_applied_only_under_its_task_lock(
    wired: tuple[TestClient, Services, ScriptedProvisioner],
) -> None:
    api, services, _ = wired
    task_id = _provisioned(api)["id"]

    with services.sessions() as session:
        task = task_store.get_task(session, task_id)
        server = server_store.get_server(session, task_id)
        assert task is not None and server is not None
        with pytest.raises(RuntimeError, match="outside its locked_transaction"):
            services.reconciler.apply(task, server)
    with services.reconciler.locked_transaction(task_id) as session:
        task = task_store.get_task(session, task_id, for_update=True)
        server = server_store.get_server(session, task_id)
        assert task is not None and server is not None
        services.reconciler.apply(task, server)
