"""Tasks (``/api/v1/tasks``) and the revisions of their specs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fedops.api.schemas.base import ResponseModel
from fedops.spec import TaskSpec

__all__ = [
    "RevisionPublic",
    "RevisionsPublic",
    "TaskPublic",
    "TaskStatus",
    "TasksPublic",
]

TaskStatus = Literal["created", "provisioning", "ready", "running", "finished", "failed", "stopped"]


class TaskPublic(ResponseModel):
    id: str
    name: str
    status: TaskStatus
    status_reason: str
    revision: int
    spec: TaskSpec
    created_at: datetime
    updated_at: datetime


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
