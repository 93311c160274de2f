"""What an FL server is given is an allow-list, never the registry's credentials (issue 8,
defect 2): the Kubernetes manifests (pure functions) and the local backend's parts."""

from __future__ import annotations

import json

from fedops.spec.task import ResourcesSpec
from fedops_services.config import KubernetesSettings, Settings
from fedops_services.provisioners.base import ServerDeployment
from fedops_services.provisioners.environment import inherited_environment
from fedops_services.provisioners.kubernetes import objects
from fedops_services.registry.server_environment import runtime_environment

TASK = "0123456789abcdef0123456789abcdef"
ADMIN_TOKEN = "admin-token-never-for-servers-0123"
DATABASE_URL = "postgresql://fedops:s3cret@db.internal/fedops"
FORBIDDEN = ("FEDOPS_ADMIN_TOKEN", "FEDOPS_DATABASE_URL", ADMIN_TOKEN, DATABASE_URL, "s3cret")


def _settings() -> Settings:
    return Settings(
        admin_token=ADMIN_TOKEN,
        database_url=DATABASE_URL,
        provisioner="kubernetes",
        kubernetes=KubernetesSettings(service_type="LoadBalancer"),
        api_url="http://registry:8080",
    )


def _deployment(settings: Settings) -> ServerDeployment:
    """The registry's environment for a server, plus what a bug could add to it."""
    leaked = {"FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN, "FEDOPS_DATABASE_URL": DATABASE_URL}
    return ServerDeployment(
        task_id=TASK,
        task_name="mnist-xai",
        replicas=1,
        resources=ResourcesSpec(),
        env={**runtime_environment(settings, TASK, "mnist-xai"), **leaked},
        secret_env={"FEDOPS_SERVER_TOKEN": "fedops_srv_token", **leaked},
    )


def test_the_runtime_environment_holds_no_registry_credential() -> None:
    env = runtime_environment(_settings(), TASK, "mnist-xai")

    text = json.dumps(env)
    assert [word for word in FORBIDDEN if word in text] == []
    assert env["FEDOPS_TASK_ID"] == TASK and env["FEDOPS_ROUND_TIMEOUT_SECONDS"] == "300"


def test_kubernetes_manifests_carry_only_allow_listed_variables() -> None:
    settings = KubernetesSettings(namespace="fl")
    deployment = _deployment(_settings())

    built = objects.server_objects(deployment, settings, "fl", "fedops-server-x-secret")
    secret = objects.token_secret(deployment, settings, "fl", "fedops-server-x-secret", {"uid": "u"})
    text = json.dumps(
        [built.config_map, built.deployment, built.service, built.persistent_volume_claim, secret]
    )

    assert [word for word in FORBIDDEN if word in text] == []
    assert built.config_map["data"]["FEDOPS_TASK_ID"] == TASK
    assert secret["stringData"] == {"FEDOPS_SERVER_TOKEN": "fedops_srv_token"}
    (container,) = built.deployment["spec"]["template"]["spec"]["containers"]
    assert [entry["name"] for entry in container["env"]] == ["FEDOPS_SERVER_TOKEN"]


def test_a_local_server_inherits_only_machine_basics() -> None:
    registry = {
        "PATH": "/usr/bin",
        "HOME": "/home/op",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/src",
        "FLWR_LOG_LEVEL": "DEBUG",
        "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEDOPS_DATABASE_URL": DATABASE_URL,
        "AWS_SECRET_ACCESS_KEY": "x",
        "KUBECONFIG": "/home/op/.kube/config",
    }

    assert inherited_environment(registry) == {
        "PATH": "/usr/bin",
        "HOME": "/home/op",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/src",
        "FLWR_LOG_LEVEL": "DEBUG",
    }
