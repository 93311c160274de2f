"""A task's global model versions, as its FL server records them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from fedops.api.schemas.base import DB_INT_MAX, ResponseModel, WireModel

__all__ = [
    "ModelVersionCreate",
    "ModelVersionPublic",
    "ModelVersionsPublic",
]


class ModelVersionCreate(WireModel):
    round: int = Field(ge=0, le=DB_INT_MAX)
    checkpoint_uri: str = Field(min_length=1, max_length=1024)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ModelVersionPublic(ResponseModel):
    task_id: str
    version: int
    round: int
    checkpoint_uri: str
    metadata: dict[str, Any]
    created_at: datetime
    checkpoint_available: bool = Field(
        default=False,
        description="Monitoring holds the version's checkpoint file: download it from "
        "/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint.",
    )
    checkpoint_size_bytes: int | None = Field(default=None, description="Size of that file, when held.")


class ModelVersionsPublic(ResponseModel):
    data: list[ModelVersionPublic]
    count: int
