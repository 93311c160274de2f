"""Wire schemas of the registry and monitoring APIs.

The services answer with these models and the typed clients parse into them, so a
change here changes both sides at once. Naming follows one family per resource:
``XCreate`` (request), ``XPublic`` (response), ``XsPublic`` (``{data, count}`` list).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fedops.spec import TaskSpec
from fedops.spec.task import Replicas, ResourcesSpec

__all__ = [
    "DB_INT_MAX",
    "JSON_INT_MAX",
    "ArtifactPublic",
    "ArtifactsPublic",
    "ClientPublic",
    "ClientRoundReport",
    "ClientTimings",
    "ClientsPublic",
    "EnrolledClient",
    "EnrollmentRequest",
    "EnrollmentTokenCreate",
    "EnrollmentTokenPublic",
    "ErrorBody",
    "ErrorDetail",
    "ErrorPublic",
    "HeartbeatRequest",
    "IngestResult",
    "LogsPublic",
    "ManagerState",
    "ModelVersionCreate",
    "ModelVersionPublic",
    "ModelVersionsPublic",
    "PodStatus",
    "Report",
    "ReportBatch",
    "ReportsPublic",
    "RevisionPublic",
    "RevisionsPublic",
    "RoundPublic",
    "RoundsPublic",
    "RunResult",
    "ScaleRequest",
    "ServerRoundReport",
    "ServerStatus",
    "ServerTimings",
    "SystemReport",
    "TaskPublic",
    "TaskStatus",
    "TasksPublic",
    "WhoAmI",
]

# The largest integer the database's integer columns hold (PostgreSQL INTEGER, signed 32
# bits). Counts and rounds beyond it are refused as invalid instead of failing in the database.
DB_INT_MAX = 2**31 - 1
# Byte counts are stored in JSON: the largest integer every JSON parser reads exactly.
JSON_INT_MAX = 2**53 - 1

TaskStatus = Literal["created", "provisioning", "ready", "running", "finished", "failed", "stopped"]
ReportId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
MetricMap = dict[Annotated[str, Field(min_length=1, max_length=64)], float]


class _Wire(BaseModel):
    """What the services validate (request bodies, and models shared by requests and
    answers): an unknown field is refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    """What the services only answer with: unknown fields are ignored, so a newer server
    that adds a field does not break an older client. (The typed clients also parse every
    answer with ``extra="ignore"``, which reaches the shared models nested inside.)"""

    model_config = ConfigDict(extra="ignore")


# --- errors ------------------------------------------------------------------------------


class ErrorDetail(_Response):
    field: str | None = None
    message: str


class ErrorBody(_Response):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorPublic(_Response):
    """Every non-2xx answer of the APIs has this shape."""

    error: ErrorBody


# --- tasks -------------------------------------------------------------------------------


class TaskPublic(_Response):
    id: str
    name: str
    status: TaskStatus
    status_reason: str
    revision: int
    spec: TaskSpec
    created_at: datetime
    updated_at: datetime


class TasksPublic(_Response):
    data: list[TaskPublic]
    count: int


class RevisionPublic(_Response):
    revision: int
    spec: TaskSpec
    created_at: datetime


class RevisionsPublic(_Response):
    data: list[RevisionPublic]
    count: int


# --- server management ----------------------------------------------------------------------


class PodStatus(_Response):
    """One pod of a server (Kubernetes provisioner)."""

    name: str
    phase: str = Field(description="Pending, Running, Succeeded, Failed or Unknown.")
    ready: bool
    reason: str = Field(default="", description="Why it is not ready, when it is not.")


class ServerStatus(_Response):
    """What the provisioner observes about a task's FL server."""

    task_id: str
    provisioner: str
    provisioned: bool
    paused: bool
    replicas: int = Field(description="Replicas asked for.")
    ready_replicas: int
    available_replicas: int
    volume_phase: str = Field(description="Bound, Pending, Lost or Absent.")
    fleet_address: str | None = Field(description="host:port edge machines connect to.")
    reason: str = Field(description="Why the server is in this state, for a person.")
    resources: ResourcesSpec
    pods: list[PodStatus] = Field(default_factory=list, description="Its pods, where the backend has pods.")


class ScaleRequest(_Wire):
    """Change replicas and/or resources; omitted fields keep their value."""

    replicas: Replicas | None = Field(default=None, description="0 (paused) or 1.")
    cpu: str | None = None
    memory: str | None = None
    gpu: int | str | None = None


class RunResult(_Wire):
    """How a run ended, as the FL server runtime reports it."""

    status: Literal["finished", "failed"]
    reason: str = Field(default="", max_length=2000)


class LogsPublic(_Response):
    task_id: str
    lines: list[str]


# --- clients -------------------------------------------------------------------------------


class EnrollmentTokenCreate(_Wire):
    ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    max_uses: int | None = Field(default=None, ge=1, le=100_000)


class EnrollmentTokenPublic(_Response):
    id: str
    task_id: str
    token: str = Field(description="Shown once; only its hash is stored.")
    expires_at: datetime
    max_uses: int | None


class EnrollmentRequest(_Wire):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    hostname: str = Field(default="", max_length=255)
    node_public_key: str | None = Field(
        default=None,
        max_length=4096,
        description="PEM public key (EC, NIST curve) of the client's SuperNode, for SuperNode auth.",
    )
    current_credential: str | None = Field(
        default=None,
        max_length=256,
        description=(
            "Re-enrolment: the current credential (fedops_cli_...) of the client that already has "
            "this name, proving the caller is that client; it keeps its id and gets a new "
            "credential. Without it an enrolled name is refused (409 client_name_taken) unless "
            "the caller is an admin. Ignored when no client has the name."
        ),
    )


class EnrolledClient(_Response):
    client_id: str
    task_id: str
    name: str
    credential: str = Field(description="Shown once; works for this task only.")


class HeartbeatRequest(_Wire):
    online: bool = True
    training: bool = False
    global_model_version: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    spool_backlog: int | None = Field(default=None, ge=0, le=DB_INT_MAX)


class ClientPublic(_Response):
    id: str
    task_id: str
    name: str
    hostname: str
    enrolled_at: datetime
    last_heartbeat_at: datetime | None
    online: bool = Field(description="Reported online and heard from recently.")
    training: bool
    global_model_version: int | None
    node_public_key: str | None = None
    spool_backlog: int | None = Field(
        default=None, description="Items waiting in the client's report spool, as of its last heartbeat."
    )


class ClientsPublic(_Response):
    data: list[ClientPublic]
    count: int


class ManagerState(_Response):
    """Everything a client manager needs from one poll."""

    task_id: str
    task_status: TaskStatus
    server_ready: bool
    fleet_address: str | None
    global_model_version: int | None
    heartbeat_interval_seconds: float
    client_id: str | None = Field(default=None, description="The calling client, for client credentials.")
    fleet_root_certificates: str | None = Field(
        default=None,
        description="PEM CA of the fleet port when it uses TLS; None means plain HTTP (loopback).",
    )
    supernode_auth: bool = Field(default=False, description="SuperNodes must sign with their enrolled key.")


class WhoAmI(_Response):
    """What the presented credential is."""

    role: Literal["admin", "client", "server", "enrollment"]
    task_id: str | None
    client_id: str | None


# --- global model versions -----------------------------------------------------------------


class ModelVersionCreate(_Wire):
    round: int = Field(ge=0, le=DB_INT_MAX)
    checkpoint_uri: str = Field(min_length=1, max_length=1024)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ModelVersionPublic(_Response):
    task_id: str
    version: int
    round: int
    checkpoint_uri: str
    metadata: dict[str, Any]
    created_at: datetime


class ModelVersionsPublic(_Response):
    data: list[ModelVersionPublic]
    count: int


# --- monitoring reports --------------------------------------------------------------------


class ServerTimings(_Wire):
    """Seconds spent by the server in each phase of a round."""

    configure: float | None = Field(default=None, ge=0)
    wait: float | None = Field(default=None, ge=0)
    aggregate: float | None = Field(default=None, ge=0)
    evaluate: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)


class ClientTimings(_Wire):
    """Seconds spent by a client in each phase of a round."""

    wait: float | None = Field(default=None, ge=0)
    load: float | None = Field(default=None, ge=0)
    train: float | None = Field(default=None, ge=0)
    evaluate: float | None = Field(default=None, ge=0)
    xai: float | None = Field(default=None, ge=0)
    upload: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)


class _ReportBase(_Wire):
    report_id: ReportId = Field(description="Made by the sender; a resend is stored once.")
    task_id: str
    created_at: datetime | None = None


class ServerRoundReport(_ReportBase):
    kind: Literal["server_round"] = "server_round"
    round: int = Field(ge=0, le=DB_INT_MAX)
    num_clients: int = Field(default=0, ge=0, le=DB_INT_MAX)
    loss: float | None = None
    accuracy: float | None = None
    metrics: MetricMap = Field(default_factory=dict)
    timings: ServerTimings = Field(default_factory=ServerTimings)
    global_model_version: int | None = Field(default=None, ge=0, le=DB_INT_MAX)


class ClientRoundReport(_ReportBase):
    kind: Literal["client_round"] = "client_round"
    client_id: str
    round: int = Field(ge=0, le=DB_INT_MAX)
    num_train_examples: int = Field(default=0, ge=0, le=DB_INT_MAX)
    num_eval_examples: int = Field(default=0, ge=0, le=DB_INT_MAX)
    train_loss: float | None = None
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    metrics: MetricMap = Field(default_factory=dict)
    timings: ClientTimings = Field(default_factory=ClientTimings)
    global_model_version: int | None = Field(default=None, ge=0, le=DB_INT_MAX)


class SystemReport(_ReportBase):
    kind: Literal["system"] = "system"
    client_id: str | None = Field(default=None, description="None for the FL server itself.")
    round: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    cpu_percent: float | None = Field(default=None, ge=0)
    rss_bytes: int | None = Field(default=None, ge=0, le=JSON_INT_MAX)
    gpu_utilization_percent: float | None = Field(default=None, ge=0, le=100)
    gpu_memory_bytes: int | None = Field(default=None, ge=0, le=JSON_INT_MAX)


Report = Annotated[ServerRoundReport | ClientRoundReport | SystemReport, Field(discriminator="kind")]


class ReportBatch(_Wire):
    reports: list[Report] = Field(min_length=1, max_length=1000)


class IngestResult(_Response):
    accepted: int = Field(description="Reports stored by this call.")
    duplicates: int = Field(description="Reports already stored earlier (same report_id).")


class ReportsPublic(_Response):
    data: list[Report]
    count: int


class RoundPublic(_Response):
    """One round of a task: the server's report and a summary of the clients' reports."""

    round: int
    server: ServerRoundReport | None
    client_reports: int
    mean_client_train_seconds: float | None
    mean_client_val_accuracy: float | None


class RoundsPublic(_Response):
    data: list[RoundPublic]
    count: int


class ArtifactPublic(_Response):
    id: str
    task_id: str
    round: int
    client_id: str
    class_label: str
    method: str
    layer: str
    content_type: str
    size_bytes: int
    sha256: str
    faithfulness: float | None = Field(
        default=None, description="Confidence change when the input is multiplied by its own map."
    )
    created_at: datetime


class ArtifactsPublic(_Response):
    data: list[ArtifactPublic]
    count: int
