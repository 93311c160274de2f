"""``/api/v1/conversions``: other tools' files turned into task specs, creating nothing."""

from __future__ import annotations

from pydantic import Field

from fedops.api.schemas.base import ResponseModel, WireModel
from fedops.spec import TaskSpec

__all__ = [
    "MAX_FEDOPS_CONFIG_CHARS",
    "ConversionNotePublic",
    "FedopsConfigConversion",
    "FedopsConfigConversionRequest",
]

# A FedOps conf/config.yaml is a few KiB; this leaves room for long comments.
MAX_FEDOPS_CONFIG_CHARS = 256 * 1024


class FedopsConfigConversionRequest(WireModel):
    config: str = Field(
        max_length=MAX_FEDOPS_CONFIG_CHARS, description="The text of a FedOps conf/config.yaml (YAML)."
    )
    name: str | None = Field(
        default=None, max_length=64, description="The task's name, instead of the file's task_id."
    )


class ConversionNotePublic(ResponseModel):
    """A key of the file that was not mapped, and why."""

    key: str
    message: str


class FedopsConfigConversion(ResponseModel):
    spec: TaskSpec
    notes: list[ConversionNotePublic]
