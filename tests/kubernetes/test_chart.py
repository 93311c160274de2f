"""The Helm chart (charts/fedops): lint, schema, rendered objects, and a real install.

Rendering needs only the pinned helm; the install tests use the real control plane of
``kube_cluster``, where kwok plays the node: pods become Ready without running, Job pods
are marked Succeeded. So the migration hook and `helm test` complete there without running
their commands; what they run is exercised instead: the migration Job's exact command here
against SQLite, the helm test script (files/check.py) against a real `fedops up` in
tests/unit/test_chart_render.py. Probes never run on kwok; check.py GETs /readyz.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from fedops_services.config import KubernetesSettings, Settings
from tests.support.kube_cluster import KubeCluster, kube_bin_dir

CHART = Path(__file__).resolve().parents[2] / "charts" / "fedops"
# The newest schemas kubernetes-validate 1.37.0 ships: 1.37 (strict: unknown fields fail).
K8S_SCHEMA_VERSION = "1.37.0"
SCENARIOS = ["defaults", "external-db-values.yaml", "ingress-prefix-values.yaml", "minimal-values.yaml"]
MIGRATE = ["fedops-services", "migrate"]
Obj = dict[str, Any]


@pytest.fixture(scope="session")
def helm() -> str:
    return str(kube_bin_dir() / "helm")


def values(scenario: str) -> list[str]:
    return [] if scenario == "defaults" else ["--values", str(CHART / "ci" / scenario)]


def helm_template(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [helm, "template", "fedops", str(CHART), "-n", "fedops", "--kube-version", "1.37.2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=check)


def render(helm: str, scenario: str = "defaults") -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(helm_template(helm, *values(scenario)).stdout) if doc]


def render_with(helm: str, *args: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(helm_template(helm, *args).stdout) if doc]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    (match,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return match


def env_of(workload: Obj) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(helm: str, scenario: str) -> None:
    result = subprocess.run(
        [helm, "lint", "--strict", str(CHART), *values(scenario)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_objects_match_the_kubernetes_schemas(helm: str, scenario: str) -> None:
    checked = set()
    for item in render(helm, scenario):
        if item["apiVersion"] != "monitoring.coreos.com/v1":  # a CRD: no schema here, checked below
            assert kubernetes_validate.validate(item, K8S_SCHEMA_VERSION, strict=True) == "1.37"
            checked.add(item["kind"])
    extra = {
        "defaults": {"Secret", "StatefulSet", "PersistentVolumeClaim", "NetworkPolicy"},
        "external-db-values.yaml": {"PersistentVolumeClaim", "NetworkPolicy", "Ingress"},
        "ingress-prefix-values.yaml": {
            "Secret",
            "StatefulSet",
            "PersistentVolumeClaim",
            "NetworkPolicy",
            "Ingress",
        },
        "minimal-values.yaml": {"Secret", "StatefulSet"},
    }[scenario]
    assert (
        checked
        == {"ConfigMap", "Deployment", "Service", "Role", "RoleBinding", "ServiceAccount", "Job"} | extra
    )


def test_service_monitor_and_dashboard(helm: str) -> None:
    objects = render(helm, "external-db-values.yaml")
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector, services = monitor["spec"]["selector"], [o for o in objects if o["kind"] == "Service"]
    assert len(services) == 2
    for service in services:
        labels = service["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        assert all(
            labels[e["key"]] in e["values"] and e["operator"] == "In" for e in selector["matchExpressions"]
        )
        assert "http" in {port["name"] for port in service["spec"]["ports"]}
    endpoint = {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    assert monitor["spec"]["endpoints"] == [endpoint]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["fedops"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    # The generated dashboards and rules (tests/unit/test_dashboards.py, test_alert_rules.py).
    dashboard = find(objects, "ConfigMap", "fedops-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    generated = sorted((CHART / "files" / "dashboards").glob("*.json"))
    assert [path.name for path in generated] == ["client.json", "overview.json", "task.json"]
    assert {key: json.loads(text) for key, text in dashboard["data"].items()} == {
        f"fedops-{path.name}": json.loads(path.read_text()) for path in generated
    }
    rule = find(objects, "PrometheusRule", "fedops")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "rules" / "fedops-alerts.yml").read_text())
    assert len(rule["spec"]["groups"][0]["rules"]) == 7


def test_monitoring_objects_are_off_by_default(helm: str) -> None:
    kinds = {o["kind"] for o in render(helm)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert "fedops-dashboard" not in {o["metadata"]["name"] for o in render(helm) if o["kind"] == "ConfigMap"}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("registry.replicas=2", "at '/registry': additional properties 'replicas' not allowed"),
        ("prometheusRule.enable=true", "at '/prometheusRule': additional properties 'enable' not allowed"),
        ("provisioner.serviceType=Nodeport", "value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'"),
        # Exposures edge machines could not use: an address they can reach is required.
        ("provisioner.serviceType=ClusterIP", "fleetAddress"),
        ("provisioner.serviceType=NodePort", "advertiseHost"),
        ("image.pullPolicy=sometimes", "value must be one of 'Always', 'IfNotPresent', 'Never'"),
        ("database.bundled.enabled=false", "database.external.existingSecret must name a Secret"),
    ],
)
def test_invalid_values_fail_with_a_clear_message(helm: str, setting: str, message: str) -> None:
    result = helm_template(helm, "--set", setting, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_pods_are_locked_down(helm: str) -> None:
    specs = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in render(helm)
        if "template" in o.get("spec", {})
    }
    assert set(specs) == {f"fedops-{n}" for n in ("registry", "monitoring", "postgresql", "migrate", "test")}
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is (name == "fedops-registry"), name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            if name != "fedops-test":
                assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}, name
    assert specs["fedops-registry"]["securityContext"]["runAsUser"] == 10001


def test_workloads_and_settings(helm: str) -> None:
    objects = render(helm)
    registry, monitoring = (find(objects, "Deployment", f"fedops-{n}") for n in ("registry", "monitoring"))
    assert registry["spec"]["replicas"] == 1 and registry["spec"]["strategy"] == {"type": "Recreate"}
    for deployment in (registry, monitoring):  # the services' own entry point, not the SDK's `fedops`
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["fedops-services", "up", "--host", "0.0.0.0", "--port", "8080"]
    config = {n: find(objects, "ConfigMap", f"fedops-{n}")["data"] for n in ("registry", "monitoring")}
    assert config["registry"]["FEDOPS_COMPONENTS"] == "registry"
    assert config["monitoring"]["FEDOPS_COMPONENTS"] == "monitoring"
    assert config["registry"]["FEDOPS_API_URL"] == "http://fedops-registry.fedops.svc:8080"
    assert config["registry"]["FEDOPS_KUBERNETES_SERVER_IMAGE"] == "ghcr.io/fedops/fedops-services:0.1.0"
    assert "FEDOPS_KUBERNETES_STORAGE_CLASS" not in config["registry"]  # unset: the cluster default
    # Edge machines get an address they can reach: a LoadBalancer per server by default.
    assert config["registry"]["FEDOPS_KUBERNETES_SERVICE_TYPE"] == "LoadBalancer"
    routed = [
        "--set",
        "provisioner.serviceType=ClusterIP",
        "--set-json",  # --set would read the braces as a list
        'provisioner.fleetAddress="{task_name}.fl.test:443"',
    ]
    routed_config = find(render_with(helm, *routed), "ConfigMap", "fedops-registry")["data"]
    assert routed_config["FEDOPS_KUBERNETES_FLEET_ADDRESS"] == "{task_name}.fl.test:443"
    namespace = env_of(registry)["FEDOPS_KUBERNETES_NAMESPACE"]
    assert namespace == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    database = {"secretKeyRef": {"name": "fedops-postgresql", "key": "url"}}
    assert env_of(registry)["FEDOPS_DATABASE_URL"] == env_of(monitoring)["FEDOPS_DATABASE_URL"] == database
    annotations = [d["spec"]["template"]["metadata"]["annotations"] for d in (registry, monitoring)]
    assert set(annotations[0]) == {"checksum/config", "checksum/secret"}
    assert annotations[0] == annotations[1]  # credentials are generated once per render

    # Every FEDOPS_* variable the chart sets is one the services read.
    known = {f"FEDOPS_{field.upper()}" for field in Settings.model_fields}
    known |= {f"FEDOPS_KUBERNETES_{field.upper()}" for field in KubernetesSettings.model_fields}
    known.add("FEDOPS_MIGRATE_WAIT_SECONDS")  # read by fedops-services migrate
    used = {*config["registry"], *config["monitoring"], *env_of(registry)}
    used |= set(env_of(find(objects, "Job", "fedops-migrate")))
    assert {key for key in used if key.startswith("FEDOPS_")} <= known


def test_the_path_prefix_reaches_the_ingress_and_both_services(helm: str) -> None:
    objects = render_with(helm, "--set", "ingress.enabled=true", "--set", "ingress.pathPrefix=/fedops")
    config = {n: find(objects, "ConfigMap", f"fedops-{n}")["data"] for n in ("registry", "monitoring")}
    assert config["registry"]["FEDOPS_PATH_PREFIX"] == config["monitoring"]["FEDOPS_PATH_PREFIX"] == "/fedops"
    # FL servers call the APIs where they answer.
    assert config["registry"]["FEDOPS_API_URL"] == "http://fedops-registry.fedops.svc:8080/fedops"
    assert config["registry"]["FEDOPS_MONITORING_URL"] == "http://fedops-monitoring.fedops.svc:8080/fedops"
    # Only the registry serves the console; the Ingress sends only monitoring's API there.
    assert config["monitoring"]["FEDOPS_CONSOLE"] == "false" and "FEDOPS_CONSOLE" not in config["registry"]
    (rule,) = find(objects, "Ingress", "fedops")["spec"]["rules"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {"/fedops/api/v1/monitoring": "fedops-monitoring", "/fedops": "fedops-registry"}
    for name in ("registry", "monitoring"):
        deployment = find(objects, "Deployment", f"fedops-{name}")
        assert env_of(deployment)["FORWARDED_ALLOW_IPS"] == "*"  # the Secure cookie behind TLS
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"  # probes stay at the root
    test_env = env_of(find(objects, "Job", "fedops-test"))
    assert test_env["FEDOPS_PATH_PREFIX"] == "/fedops"

    plain = render_with(helm, "--set", "ingress.enabled=true")
    (rule,) = find(plain, "Ingress", "fedops")["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/api/v1/monitoring", "/"]
    assert find(plain, "ConfigMap", "fedops-registry")["data"]["FEDOPS_PATH_PREFIX"] == ""
    assert "FORWARDED_ALLOW_IPS" not in env_of(find(render(helm), "Deployment", "fedops-registry"))
    for bad in ("/fedops/", "fedops", "/a b", "/.."):
        refused = helm_template(helm, "--set", f"ingress.pathPrefix={bad}", check=False)
        assert refused.returncode != 0 and "pathPrefix" in refused.stderr, bad


@pytest.mark.parametrize(
    ("scenario", "hook"),
    [("defaults", "post-install,pre-upgrade"), ("external-db-values.yaml", "pre-install,pre-upgrade")],
)
def test_migration_hook_timing_depends_on_the_database(helm: str, scenario: str, hook: str) -> None:
    job = find(render(helm, scenario), "Job", "fedops-migrate")
    policy = "before-hook-creation,hook-succeeded"
    assert job["metadata"]["annotations"] == {
        "helm.sh/hook": hook, "helm.sh/hook-weight": "0", "helm.sh/hook-delete-policy": policy
    }  # fmt: skip
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == MIGRATE


def test_the_migration_job_command_migrates(helm: str, tmp_path: Path) -> None:
    # The Job's exact command and environment, with SQLite standing in for PostgreSQL.
    (container,) = find(render(helm), "Job", "fedops-migrate")["spec"]["template"]["spec"]["containers"]
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"] if "value" in e}}
    env |= {"FEDOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'fedops.db'}", "HOME": str(tmp_path)}
    program, *arguments = container["command"]  # the image's console script, here this environment's
    command = [str(Path(sys.executable).with_name(program)), *arguments]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "fedops.db")) as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"alembic_version", "tasks"} <= tables


# --- on the real control plane ---------------------------------------------------------------


def get(cluster: KubeCluster, namespace: str, *what: str) -> Any:
    return json.loads(cluster.kubectl("get", *what, "-n", namespace, "-o", "json").stdout)


def migrations_completed(cluster: KubeCluster, namespace: str) -> int:
    events = get(cluster, namespace, "events", "--field-selector", "involvedObject.name=fedops-migrate")
    return [event["reason"] for event in events["items"]].count("Completed")


def secret_values(cluster: KubeCluster, namespace: str) -> dict[str, str]:
    values = {}
    for name in ("fedops-auth", "fedops-postgresql"):
        for key, value in get(cluster, namespace, "secret", name)["data"].items():
            values[f"{name}/{key}"] = base64.b64decode(value).decode()
    return values


def pod_annotations(cluster: KubeCluster, namespace: str) -> dict[str, Any]:
    return {
        name: get(cluster, namespace, "deployment", name)["spec"]["template"]["metadata"]["annotations"]
        for name in ("fedops-registry", "fedops-monitoring")
    }


@pytest.fixture
def release_namespace(kube_cluster: KubeCluster, kube_namespace: str) -> Iterator[str]:
    # The namespace outlives `helm uninstall` in the test; the kept Secret and PVCs go with it.
    try:
        yield kube_namespace
    finally:
        kube_cluster.helm("uninstall", "fedops", "-n", kube_namespace, "--wait", check=False, timeout=120)


def test_install_test_upgrade_uninstall(kube_cluster: KubeCluster, release_namespace: str) -> None:
    ns, helm = release_namespace, kube_cluster.helm
    started = time.monotonic()
    helm("install", "fedops", str(CHART), "-n", ns, "--wait", "--timeout", "120s", timeout=180)
    print(f"helm install --wait: {time.monotonic() - started:.1f} s")

    status = json.loads(helm("status", "fedops", "-n", ns, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    for name in ("fedops-registry", "fedops-monitoring"):
        assert get(kube_cluster, ns, "deployment", name)["status"]["availableReplicas"] == 1
    assert get(kube_cluster, ns, "statefulset", "fedops-postgresql")["status"]["readyReplicas"] == 1
    assert get(kube_cluster, ns, "pvc", "fedops-monitoring")["status"]["phase"] == "Bound"
    # The post-install migration Job ran to completion; Helm then deleted it (hook-succeeded).
    assert migrations_completed(kube_cluster, ns) == 1
    assert not get(kube_cluster, ns, "jobs")["items"]

    started = time.monotonic()
    tested = helm("test", "fedops", "-n", ns, "--timeout", "120s", timeout=180)
    print(f"helm test: {time.monotonic() - started:.1f} s")
    assert re.search(r"TEST SUITE:\s+fedops-test\n(.*\n){2}Phase:\s+Succeeded", tested.stdout), tested.stdout
    assert not get(kube_cluster, ns, "jobs")["items"]  # the test Job is deleted once it succeeded

    secrets, annotations = secret_values(kube_cluster, ns), pod_annotations(kube_cluster, ns)
    assert len(secrets["fedops-auth/admin-token"]) >= 16
    assert secrets["fedops-postgresql/url"] == (
        f"postgresql://fedops:{secrets['fedops-postgresql/password']}@fedops-postgresql:5432/fedops"
    )
    helm("upgrade", "fedops", str(CHART), "-n", ns, "--wait", "--timeout", "120s", timeout=180)
    assert json.loads(helm("status", "fedops", "-n", ns, "-o", "json").stdout)["version"] == 2
    assert secret_values(kube_cluster, ns) == secrets  # read back with lookup, not regenerated
    assert pod_annotations(kube_cluster, ns) == annotations  # so nothing rolled
    assert migrations_completed(kube_cluster, ns) == 2  # the pre-upgrade migration too

    helm("uninstall", "fedops", "-n", ns, "--wait", "--timeout", "120s", timeout=180)
    for kind in ("deployments", "statefulsets", "services", "jobs", "roles", "networkpolicies"):
        assert not get(kube_cluster, ns, kind)["items"], kind
    # The bundled database's password stays with its volume (resource-policy: keep).
    assert get(kube_cluster, ns, "secret", "fedops-postgresql")["data"]["password"]
    assert kube_cluster.kubectl("get", "secret", "fedops-auth", "-n", ns, check=False).returncode != 0


def can_i(cluster: KubeCluster, account: str, *request: str) -> bool:
    answer = cluster.kubectl("auth", "can-i", f"--as={account}", *request, check=False).stdout.strip()
    return answer == "yes"


def test_service_account_permissions(kube_cluster: KubeCluster, kube_namespace: str, helm: str) -> None:
    ns = kube_namespace
    rbac = ["--show-only", "templates/rbac.yaml", "--show-only", "templates/serviceaccount.yaml"]
    kube_cluster.kubectl("apply", "-n", ns, "-f", "-", input=helm_template(helm, "-n", ns, *rbac).stdout)
    registry, fl_server = (f"system:serviceaccount:{ns}:fedops-{name}" for name in ("registry", "fl-server"))

    allowed = [
        "create deployments.apps", "patch deployments.apps", "get deployments.apps", "list deployments.apps",
        "delete deployments.apps", "create services", "patch services", "delete services",
        "create persistentvolumeclaims", "patch persistentvolumeclaims", "delete persistentvolumeclaims",
        "create configmaps", "patch configmaps", "list configmaps", "create secrets", "get pods", "list pods",
        "watch pods", "get pods --subresource=log", "list events", "watch events",
    ]  # fmt: skip
    denied = [
        "create pods --subresource=exec", "get pods --subresource=exec", "create pods --subresource=attach",
        "create pods --subresource=portforward", "get secrets", "list secrets", "watch secrets",
        "delete secrets", "patch secrets", "create pods", "update deployments.apps",
        "patch deployments.apps --subresource=scale", "create roles.rbac.authorization.k8s.io",
        "create rolebindings.rbac.authorization.k8s.io", "create clusterroles.rbac.authorization.k8s.io",
    ]  # fmt: skip
    for request in allowed:
        assert can_i(kube_cluster, registry, *request.split(), "-n", ns), f"registry cannot {request}"
    for request in denied:
        assert not can_i(kube_cluster, registry, *request.split(), "-n", ns), f"registry may {request}"
    for request in ("create deployments.apps", "get pods", "create secrets"):
        assert not can_i(kube_cluster, registry, *request.split(), "-n", "default"), f"{request} in default"
    for request in [*allowed, "get configmaps", "list pods"]:
        assert not can_i(kube_cluster, fl_server, *request.split(), "-n", ns), f"FL server may {request}"


def test_fleet_tls_is_mounted_into_the_registry_and_its_settings_validate(helm: str) -> None:
    tls = ["--set", "provisioner.fleetTlsSecret=fleet-tls", "--set", "provisioner.supernodeAuth=true"]
    objects = [doc for doc in yaml.safe_load_all(helm_template(helm, *tls).stdout) if doc]
    registry = find(objects, "Deployment", "fedops-registry")
    pod = registry["spec"]["template"]["spec"]
    assert {"name": "fleet-tls", "secret": {"secretName": "fleet-tls"}} in pod["volumes"]
    env = {key: value for key, value in env_of(registry).items() if isinstance(value, str)}
    config = find(objects, "ConfigMap", "fedops-registry")["data"]
    # What the registry process would read: the chart's settings are accepted together.
    fields = {
        key.removeprefix("FEDOPS_").lower(): value for key, value in env.items() if key.startswith("FEDOPS_")
    }
    settings = Settings.model_validate(
        fields
        | {
            "provisioner": "kubernetes",
            "kubernetes": KubernetesSettings(
                fleet_tls_secret=config["FEDOPS_KUBERNETES_FLEET_TLS_SECRET"],
                service_type=config["FEDOPS_KUBERNETES_SERVICE_TYPE"],
            ),
        }
    )
    assert settings.fleet_tls and settings.supernode_auth

    refused = helm_template(helm, "--set", "provisioner.supernodeAuth=true", check=False)
    assert refused.returncode != 0 and "supernodeAuth needs TLS" in refused.stderr
