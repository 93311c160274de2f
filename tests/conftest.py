"""Fixtures shared by all tests.

Database-backed tests run twice, on SQLite and on PostgreSQL: a throwaway cluster
started here, or the server ``FEDOPS_TEST_DATABASE_URL`` names (its user must be
allowed to create databases). Each test gets a fresh database copied from a migrated
template, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fedops_services.app import create_app
from fedops_services.config import Settings
from fedops_services.db import upgrade_to_head
from tests.support.kube_cluster import KubeCluster, kube_bin_dir
from tests.support.postgres import ThrowawayPostgres
from tooling.local_federation import kill_supervisors

ADMIN_TOKEN = "test-admin-token-0123456789"
# A real, tiny HTTP server stands in for the FL server where a test is about the
# provisioner and not about Flower; it answers GET / like a health endpoint.
HTTP_SERVER_COMMAND = "{python} -m http.server {port} --bind 127.0.0.1"

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    external = os.environ.get("FEDOPS_TEST_DATABASE_URL")
    if external:
        yield external
        return
    cluster = ThrowawayPostgres()
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _admin_engine(server_url: str):  # type: ignore[no-untyped-def]
    url = make_url(Settings(database_url=server_url).resolved_database_url)
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> str:
    """A migrated database that per-test databases are copied from."""
    engine = _admin_engine(postgres_server_url)
    with engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS fedops_template"))
        connection.execute(text("CREATE DATABASE fedops_template"))
    engine.dispose()
    url = make_url(Settings(database_url=postgres_server_url).resolved_database_url)
    template_url = url.set(database="fedops_template").render_as_string(hide_password=False)
    upgrade_to_head(template_url)
    return template_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def postgres_database_url(postgres_server_url: str, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"fedops_test_{os.getpid()}_{next(_counter)}"
    engine = _admin_engine(postgres_server_url)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE fedops_template'))
    try:
        yield make_url(postgres_template).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite file for one test."""
    target = tmp_path / "fedops.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each database-backed test runs on both backends."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        migrate_on_start=False,
        server_command=HTTP_SERVER_COMMAND,
        server_health_path="/",
        reconcile_interval_seconds=0.5,
        api_url="http://127.0.0.1:9",
    )


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """The app in-process, against a real database; every server it started is killed."""
    app = create_app(settings)
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
            yield client
    finally:
        kill_supervisors(settings.servers_dir)


@pytest.fixture
def python() -> str:
    return sys.executable


# --- a real Kubernetes control plane (built by `make k8s-tools`; ~10 s to start) --------

KUBE_FIXTURES = {"kube_cluster", "kube_namespace", "kubeconfig_path"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers from what a test uses, so `-m "not kubernetes"` (`make test-fast`) or
    `-m "not postgres"` deselects exactly what needs the missing tool. Parameters that
    fetch these fixtures at run time carry the marker themselves (`pytest.param`).

    `kubernetes`: tests/kubernetes/ (the binaries of `make k8s-tools`) and every test using
    the control plane; `postgres`: every test using the throwaway PostgreSQL cluster.
    """
    kubernetes_dir = Path(__file__).parent / "kubernetes"
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & KUBE_FIXTURES or item.path.is_relative_to(kubernetes_dir):
            item.add_marker(pytest.mark.kubernetes)
        if "postgres_server_url" in fixtures:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    with KubeCluster(kube_bin_dir(), tmp_path_factory.mktemp("kube")) as cluster:
        yield cluster


@pytest.fixture
def kube_namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube_cluster.create_namespace(name)
    try:
        yield name
    finally:
        kube_cluster.delete_namespace(name, wait=False)


@pytest.fixture
def kubeconfig_path(kube_cluster: KubeCluster, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cluster's kubeconfig; also exported as KUBECONFIG for Python clients in this test."""
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    return kube_cluster.kubeconfig
