"""Which Kubernetes API failures the provisioner's client retries, how often, and the
sentence it ends with: against a scripted HTTP server on loopback standing in for the API
server (the real control plane never fails on cue)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.base import ProvisionerError
from fedops_services.provisioners.kubernetes.api import KubernetesApi
from tests.support.serving import serving

DEPLOYMENTS = "/apis/apps/v1/namespaces/fl/deployments"
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
DROP = 0  # a scripted "status" that closes the connection without answering


class FakeApiServer(ThreadingHTTPServer):
    """Answers each (method, path) with the next status of its script; the last repeats."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[tuple[str, str], list[int]] = {}
        self.requests: list[tuple[str, str]] = []

    def script(self, method: str, path: str, *statuses: int) -> None:
        self.scripts[(method, path)] = list(statuses)

    def count(self, method: str, path: str) -> int:
        return self.requests.count((method, path))


class _Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        self.server.requests.append((self.command, path))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        statuses = self.server.scripts.get((self.command, path)) or [404]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status == DROP:
            self.close_connection = True
            return
        body: dict[str, Any] = {"kind": "Status", "message": f"scripted {status}"}
        if status < 300:
            body = {"kind": "Deployment", "metadata": {"name": "d", "uid": "u"}}
        elif status == 404 and path.endswith("/namespaces/fl/deployments/gone-namespace"):
            body["details"] = {"name": "fl", "kind": "namespaces"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with serving(FakeApiServer()) as fake:
        yield fake


@pytest.fixture
def api(server: FakeApiServer, tmp_path: Path) -> Iterator[KubernetesApi]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    client = KubernetesApi(
        KubernetesSettings(namespace="fl", kubeconfig=kubeconfig, request_timeout_seconds=2)
    )
    yield client
    client.close()


def test_transient_answers_are_retried_until_one_succeeds(api: KubernetesApi, server: FakeApiServer) -> None:
    server.script("GET", f"{DEPLOYMENTS}/d", 503, 429, 200)

    assert api.get("Deployment", "d") == {"kind": "Deployment", "metadata": {"name": "d", "uid": "u"}}
    assert server.count("GET", f"{DEPLOYMENTS}/d") == 3


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (409, "could not read Deployment d: it kept changing underneath (conflict); try again"),
        (500, "the Kubernetes API failed to read Deployment d (HTTP 500)"),
        (504, "the Kubernetes API failed to read Deployment d (HTTP 504)"),
    ],
)
def test_a_transient_answer_is_tried_four_times_then_said_in_a_sentence(
    api: KubernetesApi, server: FakeApiServer, status: int, sentence: str
) -> None:
    server.script("GET", f"{DEPLOYMENTS}/d", status)

    with pytest.raises(ProvisionerError) as failed:
        api.get("Deployment", "d")
    assert failed.value.public_message == sentence
    assert server.count("GET", f"{DEPLOYMENTS}/d") == 4


def test_writes_are_retried_too(api: KubernetesApi, server: FakeApiServer) -> None:
    """Server-side apply is idempotent, so a PATCH is repeated like a read."""
    path = "/api/v1/namespaces/fl/configmaps/c"
    server.script("PATCH", path, 409, 502, 200)

    api.apply(CONFIG_MAP)
    assert server.count("PATCH", path) == 3


def test_a_create_that_finds_the_object_answers_none_at_once(
    api: KubernetesApi, server: FakeApiServer
) -> None:
    server.script("POST", "/api/v1/namespaces/fl/configmaps", 409)

    assert api.create(CONFIG_MAP) is None
    assert server.count("POST", "/api/v1/namespaces/fl/configmaps") == 1


def test_refusals_are_not_retried_and_become_sentences(api: KubernetesApi, server: FakeApiServer) -> None:
    server.script("GET", f"{DEPLOYMENTS}/d", 403)
    server.script("PATCH", "/api/v1/namespaces/fl/configmaps/c", 422)

    with pytest.raises(
        ProvisionerError, match=r"^the provisioner is not allowed to read Deployment d; check"
    ):
        api.get("Deployment", "d")
    with pytest.raises(ProvisionerError, match=r"^Kubernetes refused to apply ConfigMap c: scripted 422$"):
        api.apply(CONFIG_MAP)
    assert server.count("GET", f"{DEPLOYMENTS}/d") == 1
    assert server.count("PATCH", "/api/v1/namespaces/fl/configmaps/c") == 1


def test_a_tolerated_404_is_none_but_a_missing_namespace_is_an_error(
    api: KubernetesApi, server: FakeApiServer
) -> None:
    assert api.get("Deployment", "absent") is None
    with pytest.raises(ProvisionerError, match="namespace 'fl' does not exist"):
        api.get("Deployment", "gone-namespace")
    assert server.count("GET", f"{DEPLOYMENTS}/absent") == 1


def test_a_connection_closed_without_an_answer_is_tried_twice(
    api: KubernetesApi, server: FakeApiServer
) -> None:
    server.script("GET", f"{DEPLOYMENTS}/d", DROP)

    with pytest.raises(ProvisionerError, match=r"^cannot reach the Kubernetes API at http://127\.0\.0\.1:"):
        api.get("Deployment", "d")
    assert server.count("GET", f"{DEPLOYMENTS}/d") == 2
