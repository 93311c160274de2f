"""Settings of the fedops services, read from ``FEDOPS_*`` environment variables.

Settings are built once by the entry point and injected; nothing reads the environment
at import time, so tests build as many differently-configured apps as they like.
"""

from __future__ import annotations

import re
import shlex
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "DEFAULT_SERVER_COMMAND",
    "FLEET_ADDRESS_PLACEHOLDERS",
    "SERVER_COMMAND_PLACEHOLDERS",
    "Component",
    "KubernetesSettings",
    "Settings",
    "render_fleet_address",
    "render_server_command",
]

Component = Literal["registry", "monitoring"]

# Segments of unreserved characters; "." and ".." alone would be normalised away by clients.
_PATH_PREFIX = re.compile(r"(/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+")

# What the local provisioner runs for a task unless told otherwise: the fedops FL server
# runtime. Placeholders are filled per task by the provisioner.
DEFAULT_SERVER_COMMAND = "{python} -m fedops_services.flserver --port {port} --data-dir {data_dir}"


# What the local provisioner fills into the server command, per task.
SERVER_COMMAND_PLACEHOLDERS = ("python", "port", "data_dir", "task_id", "task_name")


def render_server_command(template: str, values: dict[str, str]) -> list[str]:
    """The command of a ``FEDOPS_SERVER_COMMAND`` template: split like a shell would, then
    each word's ``{placeholder}`` filled. Raises ValueError with a sentence for a person, so
    a bad template stops the services at start-up instead of failing each provisioning."""
    prefix = f"FEDOPS_SERVER_COMMAND {template!r}"
    try:
        words = shlex.split(template)
    except ValueError as exc:  # e.g. "No closing quotation"
        raise ValueError(f"{prefix} cannot be split into words: {exc}") from None
    if not words:
        raise ValueError(f"{prefix} is empty; the default is {DEFAULT_SERVER_COMMAND!r}")
    known = ", ".join(f"{{{name}}}" for name in SERVER_COMMAND_PLACEHOLDERS)
    command = []
    for word in words:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(word) if name is not None]
        except ValueError as exc:  # "Single '}' encountered", "unmatched '{'"
            raise ValueError(
                f"{prefix} has unbalanced braces in {word!r} ({exc}); write {{{{ and }}}} for literal braces"
            ) from None
        unknown = [name for name in fields if name not in SERVER_COMMAND_PLACEHOLDERS]
        if unknown:
            raise ValueError(f"{prefix} uses unknown placeholder {{{unknown[0]}}}; known ones: {known}")
        try:
            command.append(word.format(**values))
        except (KeyError, IndexError, ValueError) as exc:  # a nested field or a bad format spec
            raise ValueError(f"{prefix} cannot fill {word!r}: {exc!r}; use plain {known}") from None
    return command


FLEET_ADDRESS_PLACEHOLDERS = ("task_id", "task_name", "service", "namespace")


def render_fleet_address(template: str, values: dict[str, str]) -> str:
    """A task's fleet address from ``FEDOPS_KUBERNETES_FLEET_ADDRESS``; ValueError when the
    template cannot be filled (unknown placeholder, unbalanced braces)."""
    prefix = f"FEDOPS_KUBERNETES_FLEET_ADDRESS {template!r}"
    known = ", ".join(f"{{{name}}}" for name in FLEET_ADDRESS_PLACEHOLDERS)
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        unknown = [name for name in fields if name not in FLEET_ADDRESS_PLACEHOLDERS]
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}}")
        address = template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{prefix} cannot be filled: {exc}; known placeholders: {known}") from None
    if not address.strip() or any(character.isspace() for character in address):
        raise ValueError(f"{prefix} must be a host:port without spaces")
    return address


class KubernetesSettings(BaseSettings):
    """How the kubernetes provisioner makes each task's server (``FEDOPS_KUBERNETES_*``)."""

    model_config = SettingsConfigDict(env_prefix="FEDOPS_KUBERNETES_", extra="ignore")

    namespace: str | None = Field(
        default=None,
        description="Where task servers are created; unset: the pod's own namespace, else default.",
    )
    kubeconfig: Path | None = Field(
        default=None,
        description="Outside a cluster: this kubeconfig instead of $KUBECONFIG or ~/.kube/config.",
    )
    context: str | None = Field(default=None, description="Kubeconfig context; unset: the current one.")
    server_image: str = Field(
        default="ghcr.io/fedops/fedops-services:0.1.0", description="Image of the FL server containers."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = Field(
        default=None,
        description="How edge machines reach each task's fleet Service; the registry refuses to start "
        "without a choice: LoadBalancer, NodePort (with advertise_host), or ClusterIP (reachable only "
        "inside the cluster, unless fleet_address names what routes to it).",
    )
    storage_class: str | None = Field(
        default=None, description="Storage class of task volumes; unset: the cluster's default."
    )
    fleet_port: int = Field(
        default=9092, ge=1, le=65535, description="Fleet port inside the pod and on the Service."
    )
    server_service_account: str | None = Field(
        default=None, description="Service account of FL server pods (they need no API access)."
    )
    fleet_tls_secret: str | None = Field(
        default=None, description="kubernetes.io/tls Secret (with ca.crt) mounted into FL server pods."
    )
    advertise_host: str | None = Field(
        default=None, description="Host edge machines use to reach NodePort services."
    )
    fleet_address: str | None = Field(
        default=None,
        description="host:port edge machines use for a task's FL server when the operator routes it "
        "(Ingress, Gateway, DNS) to the task's Service; placeholders "
        + ", ".join(f"{{{name}}}" for name in FLEET_ADDRESS_PLACEHOLDERS)
        + ", e.g. '{task_name}.fl.example.org:443'. Overrides what the Service type would give.",
    )
    instance: str = Field(
        default="fedops",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Name of this installation, a label on every object it makes: installations "
        "sharing a namespace never touch each other's servers.",
    )
    request_timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("fleet_address")
    @classmethod
    def _fleet_address_renders(cls, value: str | None) -> str | None:
        if value is not None:
            render_fleet_address(value, dict.fromkeys(FLEET_ADDRESS_PLACEHOLDERS, "x"))
        return value

    @model_validator(mode="after")
    def _node_port_has_a_host(self) -> KubernetesSettings:
        if self.service_type == "NodePort" and not (self.advertise_host or self.fleet_address):
            raise ValueError(
                "FEDOPS_KUBERNETES_SERVICE_TYPE=NodePort needs FEDOPS_KUBERNETES_ADVERTISE_HOST: the host "
                "(a node's address or a name for the nodes) edge machines connect to"
            )
        return self

    @property
    def edge_reachable(self) -> bool:
        """Whether the fleet addresses handed to edge machines work outside the cluster."""
        return bool(self.fleet_address) or self.service_type in ("NodePort", "LoadBalancer")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEDOPS_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".fedops"),
        description="Embedded database, artifacts, local servers' data and logs live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the embedded default, a SQLite file in data_dir.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token of the administrator; required outside embedded mode."
    )
    components: Annotated[frozenset[Component], NoDecode] = Field(
        default=frozenset({"registry", "monitoring"}),
        description="Which APIs this process serves, comma-separated: registry (tasks, servers, "
        "clients; runs the reconciler), monitoring (reports, rounds, XAI artifacts), or both.",
    )
    console: bool = Field(
        default=True, description="Serve the web console at / (the chart enables it on the registry only)."
    )
    path_prefix: str = Field(
        default="",
        description="Serve the API and the console under this path (e.g. /fedops behind an Ingress "
        "that routes /fedops to the services without rewriting); /healthz, /readyz and /metrics also "
        "answer at the root, for probes and scrapes. Empty: everything at the root.",
    )
    session_ttl_seconds: int = Field(
        default=12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="How long a console sign-in lasts; then the admin token is asked for again.",
    )
    provisioner: Literal["local", "kubernetes"] = "local"
    api_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL of the registry API as FL servers reach it.",
    )
    monitoring_url: str | None = Field(
        default=None, description="Base URL of the monitoring API as FL servers reach it; unset: api_url."
    )
    migrate_on_start: bool = Field(
        default=True, description="Run Alembic migrations at start-up (the Helm chart uses a Job instead)."
    )
    advertise_host: str = Field(
        default="127.0.0.1", description="Host edge machines use to reach local FL servers."
    )
    server_command: str = Field(
        default=DEFAULT_SERVER_COMMAND,
        description="Command the local provisioner supervises per task; placeholders "
        "{python} {port} {data_dir} {task_id} {task_name}.",
    )
    server_health_path: str = "/health"
    fleet_tls_cert: Path | None = Field(
        default=None, description="PEM certificate of the FL servers' fleet port."
    )
    fleet_tls_key: Path | None = Field(default=None, description="Its private key.")
    fleet_tls_ca: Path | None = Field(default=None, description="CA that signed it; handed to edge clients.")
    supernode_auth: bool = Field(
        default=False, description="Only enrolled clients' keys may connect to FL servers (needs TLS)."
    )
    round_timeout_seconds: float = Field(
        default=300.0, gt=0, description="How long an FL server's round waits for replies (passed to it)."
    )
    wait_for_clients_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long an FL server's run waits for its first client (passed to it).",
    )
    heartbeat_interval_seconds: float = Field(default=6.0, gt=0)
    heartbeat_timeout_seconds: float = Field(default=30.0, gt=0)
    reconcile_interval_seconds: float = Field(default=2.0, gt=0)
    poll_cache_seconds: float = Field(
        default=1.0, ge=0, description="How long a task's client-manager poll answer is shared; 0 disables."
    )
    max_artifact_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="Largest request body (JSON) accepted, counted while it streams in; artifact "
        "uploads are bounded by max_artifact_bytes and checkpoint uploads by max_checkpoint_bytes instead.",
    )
    max_checkpoint_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        description="Largest global model checkpoint (.npz) an FL server may upload to monitoring; "
        "streamed to disk, never held in memory.",
    )
    artifact_sweep_seconds: float = Field(
        default=300.0, gt=0, description="How often monitoring removes the XAI files of deleted tasks."
    )
    db_pool_size: int = Field(
        default=10, ge=1, description="Database connections (and worker threads) per API process."
    )
    metrics_fl: bool = Field(
        default=True,
        description="FL metrics on /metrics (rounds, model quality, clients, XAI, FL servers), derived by "
        "the monitoring component from what it stores; off: ingest stores no per-report numbers for "
        "them (reports stored meanwhile are missing from the FL metrics later) and /metrics serves "
        "only process, HTTP and ingest counters.",
    )
    metrics_per_client: bool = Field(
        default=False,
        description="Per-client series (last heartbeat, phase times of the last round): off by default, "
        "as they grow with the clients.",
    )
    metrics_client_series_limit: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="With metrics_per_client: at most this many clients per task get series, those "
        "heard from most recently (last heartbeat, then name).",
    )

    kubernetes: KubernetesSettings = Field(default_factory=lambda: KubernetesSettings())

    @field_validator("components", mode="before")
    @classmethod
    def _split_components(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("components")
    @classmethod
    def _some_component(cls, value: frozenset[str]) -> frozenset[str]:
        if not value:
            raise ValueError("name at least one of: registry, monitoring")
        return value

    @field_validator("path_prefix")
    @classmethod
    def _usable_prefix(cls, value: str) -> str:
        # The prefix is written into routes and into the session cookie's Path: one or more
        # segments of unreserved URL characters, nothing to escape or normalise.
        if value and not _PATH_PREFIX.fullmatch(value):
            raise ValueError(
                f"FEDOPS_PATH_PREFIX {value!r} must start with '/', not end with '/', and hold only "
                "letters, digits and . _ ~ - between the slashes, e.g. /fedops"
            )
        return value

    @field_validator("server_command")
    @classmethod
    def _renderable(cls, value: str) -> str:
        render_server_command(value, dict.fromkeys(SERVER_COMMAND_PLACEHOLDERS, "x"))  # raises ValueError
        return value

    @model_validator(mode="after")
    def _tls_complete(self) -> Settings:
        tls = (self.fleet_tls_cert, self.fleet_tls_key, self.fleet_tls_ca)
        if any(tls) and not all(tls):
            raise ValueError("set all of FEDOPS_FLEET_TLS_CERT, FEDOPS_FLEET_TLS_KEY and FEDOPS_FLEET_TLS_CA")
        if self.supernode_auth and not all(tls):
            raise ValueError("FEDOPS_SUPERNODE_AUTH needs TLS: set FEDOPS_FLEET_TLS_CERT/KEY/CA")
        # On Kubernetes the servers' TLS files come from a Secret mounted into their pods;
        # the registry reads the same Secret's mounted CA to hand to edge clients.
        if self.provisioner == "kubernetes" and all(tls) != bool(self.kubernetes.fleet_tls_secret):
            raise ValueError(
                "on Kubernetes, fleet TLS needs both FEDOPS_KUBERNETES_FLEET_TLS_SECRET (mounted into FL "
                "server pods) and FEDOPS_FLEET_TLS_CERT/KEY/CA (that Secret's files as mounted here)"
            )
        if self.provisioner == "kubernetes" and self.kubernetes.service_type is None:
            raise ValueError(
                "choose how edge machines reach FL servers: FEDOPS_KUBERNETES_SERVICE_TYPE=LoadBalancer, "
                "NodePort (with FEDOPS_KUBERNETES_ADVERTISE_HOST), or ClusterIP with "
                "FEDOPS_KUBERNETES_FLEET_ADDRESS (what routes edge traffic to each server's Service; "
                "ClusterIP alone reaches only clients inside the cluster)"
            )
        return self

    @property
    def fleet_tls(self) -> bool:
        return self.fleet_tls_cert is not None

    @property
    def embedded(self) -> bool:
        """The zero-configuration single-machine mode: SQLite in data_dir."""
        return self.database_url is None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'fedops.db').resolve()}"
        url = self.database_url
        # Plain postgres URLs mean psycopg 3, the one driver installed.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def artifact_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def servers_dir(self) -> Path:
        return self.data_dir / "servers"
