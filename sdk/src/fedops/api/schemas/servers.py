"""A task's FL server (``/api/v1/tasks/{id}/server``): its status, scaling, run result and logs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fedops.api.schemas.base import ResponseModel, WireModel
from fedops.spec.task import Replicas, ResourcesSpec

__all__ = [
    "LogsPublic",
    "PodStatus",
    "RunResult",
    "ScaleRequest",
    "ServerStatus",
]


class PodStatus(ResponseModel):
    """One pod of a server (Kubernetes provisioner)."""

    name: str
    phase: str = Field(description="Pending, Running, Succeeded, Failed or Unknown.")
    ready: bool
    reason: str = Field(default="", description="Why it is not ready, when it is not.")


class ServerStatus(ResponseModel):
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


class ScaleRequest(WireModel):
    """Change replicas and/or resources; omitted fields keep their value."""

    replicas: Replicas | None = Field(default=None, description="0 (paused) or 1.")
    cpu: str | None = None
    memory: str | None = None
    gpu: int | str | None = None


class RunResult(WireModel):
    """How a run ended, as the FL server runtime reports it."""

    status: Literal["finished", "failed"]
    reason: str = Field(default="", max_length=2000)


class LogsPublic(ResponseModel):
    task_id: str
    lines: list[str]
