"""Tasks (``/api/v1/tasks``) and the revisions of their specs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fedops.api.schemas.base import ResponseModel
from fedops.spec import TaskSpec

__all__ = [
    "RevisionPublic",
    "RevisionsPublic",
    "TaskProgress",
    "TaskPublic",
    "TaskStatus",
    "TasksPublic",
]

TaskStatus = Literal["created", "provisioning", "ready", "running", "finished", "failed", "stopped"]


class TaskProgress(ResponseModel):
    """Where the task's training stands, as a list of tasks shows it."""

    rounds_completed: int = Field(
        description="The highest round the FL server reported as done (a round run again after a "
        "crash counts once); 0 before the first."
    )
    num_rounds: int = Field(description="Rounds the spec asks for (spec.rounds).")
    clients: int = Field(description="Clients enrolled.")
    online_clients: int = Field(description="Of those, online (as ClientPublic.online: a recent heartbeat).")
    training_clients: int = Field(description="Of those, training now (as ClientPublic.training).")


class TaskPublic(ResponseModel):
    id: str
    name: str
    status: TaskStatus
    status_reason: str
    revision: int
    spec: TaskSpec
    created_at: datetime
    updated_at: datetime
    progress: TaskProgress


class TasksPublic(ResponseModel):
    data: list[TaskPublic]
    count: int


class RevisionPublic(ResponseModel):
    revision: int
    spec: TaskSpec
    created_at: datetime


class RevisionsPublic(ResponseModel):
    data: list[RevisionPublic]
    count: int
