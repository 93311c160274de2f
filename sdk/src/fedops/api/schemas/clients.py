"""Edge clients: enrolment tokens, enrolment, heartbeats, what a client manager polls."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from fedops.api.schemas.base import DB_INT_MAX, ResponseModel, WireModel
from fedops.api.schemas.tasks import TaskStatus

__all__ = [
    "ClientPublic",
    "ClientsPublic",
    "EnrolledClient",
    "EnrollmentRequest",
    "EnrollmentTokenCreate",
    "EnrollmentTokenPublic",
    "HeartbeatRequest",
    "ManagerState",
]


class EnrollmentTokenCreate(WireModel):
    ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    max_uses: int | None = Field(default=None, ge=1, le=100_000)


class EnrollmentTokenPublic(ResponseModel):
    id: str
    task_id: str
    token: str = Field(description="Shown once; only its hash is stored.")
    expires_at: datetime
    max_uses: int | None


class EnrollmentRequest(WireModel):
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


class EnrolledClient(ResponseModel):
    client_id: str
    task_id: str
    name: str
    credential: str = Field(description="Shown once; works for this task only.")


class HeartbeatRequest(WireModel):
    online: bool = True
    training: bool = False
    global_model_version: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    spool_backlog: int | None = Field(default=None, ge=0, le=DB_INT_MAX)


class ClientPublic(ResponseModel):
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


class ClientsPublic(ResponseModel):
    data: list[ClientPublic]
    count: int


class ManagerState(ResponseModel):
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
