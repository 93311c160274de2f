"""A small, typed door to the Kubernetes API: connect, retry, and say what went wrong.

Connection: in-cluster service-account config first (the registry pod), then a
kubeconfig. Writes are server-side apply (one idempotent "make it so" per object, no
read-modify-write races). Transient failures (conflicts, throttling, 5xx, connection
errors) are retried a few times by urllib3's ``Retry``, which the official client hands to
its connection pool; everything that still fails becomes a ``ProvisionerError`` whose
message a person can act on. Raw API bodies go to the log only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3.exceptions
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.util.retry import Retry

from fedops_services.config import KubernetesSettings
from fedops_services.provisioners.base import ProvisionerError

__all__ = ["FIELD_MANAGER", "Json", "KubernetesApi"]

logger = logging.getLogger(__name__)

FIELD_MANAGER = "fedops"
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_RETRIED_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
_STATUS_RETRIES = 3  # for the answers above, which come quickly
_TRANSPORT_RETRIES = 1  # an API that does not answer costs a timeout each time


class _KubernetesRetry(Retry):
    """urllib3's retries, except for the one retried status that is an answer: a create's
    409 means the object exists already (``create`` tolerates it), not a passing conflict."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method == "POST" and status_code == 409:
            return False
        return super().is_retry(method, status_code, has_retry_after)


# Every request's retries (urllib3 derives a new state per request from this one).
_RETRIES = _KubernetesRetry(
    total=_STATUS_RETRIES,
    status=_STATUS_RETRIES,
    connect=_TRANSPORT_RETRIES,
    read=_TRANSPORT_RETRIES,
    other=_TRANSPORT_RETRIES,
    status_forcelist=_RETRIED_STATUSES,
    allowed_methods=None,  # every verb: applies are idempotent, a repeated create answers 409
    backoff_factor=0.2,  # the first retry at once, then after 0.4 s and 0.8 s
    respect_retry_after_header=False,  # our own backoff bounds a request's time
    raise_on_status=False,  # the last answer becomes an ApiException, then a sentence
    redirect=0,
    raise_on_redirect=False,  # the API server does not redirect: a 3xx is an error answer
)


# The kinds fedops touches: where their collections live in the API.
_COLLECTIONS = {
    "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps",
    "Event": "/api/v1/namespaces/{namespace}/events",
    "PersistentVolumeClaim": "/api/v1/namespaces/{namespace}/persistentvolumeclaims",
    "Pod": "/api/v1/namespaces/{namespace}/pods",
    "Secret": "/api/v1/namespaces/{namespace}/secrets",
    "Service": "/api/v1/namespaces/{namespace}/services",
    "Deployment": "/apis/apps/v1/namespaces/{namespace}/deployments",
}

Json = dict[str, Any]


class KubernetesApi:
    """Namespaced reads and writes as plain JSON documents, over the official client.

    The client's typed models are not used: every field of them is optional, and the
    manifests fedops applies are plain documents anyway (see ``objects``).
    """

    def __init__(self, settings: KubernetesSettings) -> None:
        self._settings = settings
        self._client: client.ApiClient | None = None  # connected on first use
        self._connecting = threading.Lock()
        self.namespace = settings.namespace or _own_namespace()

    @property
    def host(self) -> str:
        return str(self._connect().configuration.host)

    def apply(self, manifest: Json) -> Json:
        """Server-side apply: create or update to exactly this, fields owned by fedops."""
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        answer = self._send(
            f"apply {kind} {name}",
            "PATCH",
            self._path(kind, name),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=manifest,
            content_type="application/apply-patch+yaml",  # JSON is YAML
        )
        return _json(answer)

    def patch_labels(self, kind: str, name: str, labels: dict[str, str | None]) -> Json:
        """Set labels (None removes one) and nothing else: a JSON merge patch."""
        answer = self._send(
            f"relabel {kind} {name}",
            "PATCH",
            self._path(kind, name),
            query={"fieldManager": FIELD_MANAGER},
            body={"metadata": {"labels": labels}},
            content_type="application/merge-patch+json",
        )
        return _json(answer)

    def create(self, manifest: Json) -> Json | None:
        """Create; None when an object of that name exists already."""
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        answer = self._send(f"create {kind} {name}", "POST", self._path(kind), body=manifest, tolerate=409)
        return None if answer is None else _json(answer)

    def get(self, kind: str, name: str) -> Json | None:
        answer = self._send(f"read {kind} {name}", "GET", self._path(kind, name), tolerate=404)
        return None if answer is None else _json(answer)

    def list(self, kind: str, *, labels: str | None = None, fields: str | None = None) -> list[Json]:
        query = {key: value for key, value in (("labelSelector", labels), ("fieldSelector", fields)) if value}
        items = _json(self._send(f"list {kind}s", "GET", self._path(kind), query=query)).get("items")
        return list(items or [])

    def delete(self, kind: str, name: str) -> None:
        """Delete in the background (dependents are garbage-collected); gone already is fine."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        self._send(f"delete {kind} {name}", "DELETE", self._path(kind, name), body=options, tolerate=404)

    def pod_log(self, pod: str, container: str, tail: int) -> str:
        query = {"container": container, "tailLines": str(tail)}
        answer = self._send(
            f"read the log of pod {pod} (pods/log)", "GET", self._path("Pod", pod) + "/log", query=query
        )
        return (answer or b"").decode("utf-8", errors="replace")  # plain text, whatever Accept says

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    # --- transport -----------------------------------------------------------------------

    def _path(self, kind: str, name: str | None = None) -> str:
        collection = _COLLECTIONS[kind].format(namespace=quote(self.namespace, safe=""))
        return f"{collection}/{quote(name, safe='')}" if name else collection

    def _send(
        self,
        action: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Json | None = None,
        content_type: str = "application/json",
        tolerate: int | None = None,
    ) -> bytes | None:
        """One request (transient failures retried by the pool); the body on 2xx.

        The ``tolerate`` status (404 of a read, 409 of a create) answers None instead
        of an error, except a 404 that means the namespace itself is missing. Every
        other failure becomes a ``ProvisionerError`` a person can act on.
        """
        api = self._connect()
        try:
            request = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json"}
                | ({"Content-Type": content_type} if body else {}),
                body=body,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(*request, _request_timeout=self._settings.request_timeout_seconds)
            data: bytes = response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:  # raised by the client itself, e.g. for a request it cannot make
            raise self._public(exc, action) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # retries exhausted: MaxRetryError
            logger.warning("Kubernetes API unreachable (%s): %r", action, exc)
            raise ProvisionerError(
                f"cannot reach the Kubernetes API at {self.host} to {action}; is the cluster up?"
            ) from exc
        if 200 <= response.status < 300:
            return data
        error = ApiException(http_resp=response, body=data.decode("utf-8", errors="replace"))
        if error.status == tolerate and not _namespace_missing(error):
            return None
        raise self._public(error, action)

    def _public(self, exc: ApiException, action: str) -> ProvisionerError:
        return _public_error(exc, action, self.namespace)

    def _connect(self) -> client.ApiClient:
        with self._connecting:
            if self._client is None:
                configuration = _configuration(self._settings)
                configuration.retries = _RETRIES
                self._client = client.ApiClient(configuration)
            return self._client


def _configuration(settings: KubernetesSettings) -> client.Configuration:
    """In-cluster service-account config first (unless a kubeconfig is named), then a kubeconfig."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and settings.kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return configuration
        except ConfigException as exc:
            logger.warning("in-cluster configuration unusable (%s); trying a kubeconfig", exc)
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(settings.kubeconfig) if settings.kubeconfig else None,
            context=settings.context,
            client_configuration=configuration,
        )
    except (ConfigException, OSError) as exc:
        logger.error("no Kubernetes configuration: %s", exc)
        raise ProvisionerError(
            "no Kubernetes configuration: run inside a cluster, or set "
            "FEDOPS_KUBERNETES_KUBECONFIG (or KUBECONFIG) to a kubeconfig file"
        ) from exc
    return configuration


def _json(data: bytes | None) -> Json:
    try:
        document = json.loads(data) if data else {}
    except ValueError as exc:  # e.g. a proxy's HTML page in front of the API server
        raise ProvisionerError("the Kubernetes API answered with something that is not JSON") from exc
    return document if isinstance(document, dict) else {}


def _own_namespace() -> str:
    try:
        return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _status_message(exc: ApiException) -> str:
    """The Status object's message: one readable sentence from the API server."""
    try:
        body: Any = json.loads(exc.body or "")
    except ValueError:
        return ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    return str(message)[:400]


def _namespace_missing(exc: ApiException) -> bool:
    try:
        details = json.loads(exc.body or "").get("details", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(details, dict) and details.get("kind") == "namespaces"


def _public_error(exc: ApiException, action: str, namespace: str) -> ProvisionerError:
    logger.warning("Kubernetes API error (%s): HTTP %s %s", action, exc.status, exc.body)
    message = _status_message(exc)
    if exc.status == 401:
        text = f"the Kubernetes API did not accept the provisioner's credentials ({action})"
    elif exc.status == 403:
        text = f"the provisioner is not allowed to {action}; check its Role. Kubernetes said: {message}"
    elif exc.status == 404 and _namespace_missing(exc):
        text = f"namespace {namespace!r} does not exist; create it or set FEDOPS_KUBERNETES_NAMESPACE"
    elif exc.status in (400, 422):
        text = f"Kubernetes refused to {action}: {message}"
    elif exc.status == 409:
        text = f"could not {action}: it kept changing underneath (conflict); try again"
    else:
        text = f"the Kubernetes API failed to {action} (HTTP {exc.status})"
    return ProvisionerError(text)
