"""The task spec: everything an operator declares about one federated-learning task.

One schema serves the registry API, the CLI and the edge client, so a spec that
validates here is one the platform can run. Every section rejects unknown keys: a typo
such as ``epoch`` must fail loudly rather than silently fall back to a default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import ValidationInfo

from fedops.spec.quantities import normalize_bytes, normalize_cpu, parse_whole_count
from fedops.spec.strategies import StrategyName, check_strategy_params

__all__ = [
    "MAX_REPLICAS",
    "NAME_MAX_LENGTH",
    "ClientsSpec",
    "DatasetSpec",
    "ModelSpec",
    "Replicas",
    "ResourcesSpec",
    "StrategySpec",
    "TaskSpec",
    "TrainingSpec",
    "XaiMethod",
    "XaiSpec",
]

# Kubernetes object names are derived from the task name (e.g. "fedops-<name>-data"),
# so the name is a DNS-1123 label short enough to leave room for those affixes.
NAME_MAX_LENGTH = 48
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PYTHON_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

XaiMethod = Literal[
    "gradcam",
    "gradcam++",
    "hirescam",
    "gradcamelementwise",
    "xgradcam",
    "layercam",
    "eigencam",
    "eigengradcam",
    "scorecam",
    "ablationcam",
    "fullgrad",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Section):
    """The network the clients train: a dotted path in the client project, and its head size."""

    target: str = Field(
        default="models.MNISTClassifier",
        description="Dotted path of the model class or factory in the client project.",
    )
    output_size: int = Field(default=10, ge=1, le=100_000, description="Number of classes.")

    @field_validator("target")
    @classmethod
    def _dotted_path(cls, value: str) -> str:
        if not _PYTHON_TARGET.match(value):
            raise ValueError(f"{value!r} is not a dotted Python path such as 'models.MNISTClassifier'")
        return value


class DatasetSpec(_Section):
    name: str = Field(default="mnist", min_length=1, max_length=128)
    validation_split: float = Field(default=0.2, ge=0.0, lt=1.0)


class StrategySpec(_Section):
    """A strategy of ``flwr.serverapp.strategy`` and keyword arguments for its constructor."""

    name: StrategyName = "FedAvg"
    params: dict[str, bool | int | float | str] = Field(default_factory=dict, validate_default=True)

    @field_validator("params", mode="after")
    @classmethod
    def _accepted_by_constructor(
        cls, params: dict[str, bool | int | float | str], info: ValidationInfo
    ) -> dict[str, bool | int | float | str]:
        name = info.data.get("name")
        if name is None:  # the name itself failed; that error is reported already
            return params
        return check_strategy_params(name, params)


class ClientsSpec(_Section):
    """How many clients a round needs and what share of them it samples."""

    min_available: int = Field(default=2, ge=1, le=100_000)
    min_train: int = Field(default=2, ge=1, le=100_000)
    min_evaluate: int = Field(default=2, ge=0, le=100_000)
    fraction_train: float = Field(default=1.0, gt=0.0, le=1.0)
    fraction_evaluate: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> ClientsSpec:
        if self.min_train > self.min_available:
            raise ValueError(
                f"clients.min_train ({self.min_train}) cannot exceed clients.min_available "
                f"({self.min_available}): a round would wait forever"
            )
        if self.min_evaluate > self.min_available:
            raise ValueError(
                f"clients.min_evaluate ({self.min_evaluate}) cannot exceed clients.min_available "
                f"({self.min_available})"
            )
        return self


class TrainingSpec(_Section):
    """Local training on each client, per round."""

    epochs: int = Field(default=1, ge=1, le=10_000)
    batch_size: int = Field(default=32, ge=1, le=65_536)
    learning_rate: float = Field(default=0.01, gt=0.0, le=100.0)
    # numpy and torch seed with an unsigned 32-bit integer: a larger seed would be accepted
    # here and fail on every client.
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)


class XaiSpec(_Section):
    """Grad-CAM explanations generated on the clients during evaluation."""

    enabled: bool = False
    method: XaiMethod = "gradcam"
    target_layer: str | int = Field(
        default=-1,
        description="Attribute name of the layer (e.g. 'conv2') or index among conv layers (e.g. -1).",
    )
    samples_per_class: int = Field(default=1, ge=1, le=64)
    run_location: Literal["client"] = Field(
        default="client",
        description="Where explanations are computed. Only 'client' exists: raw data never leaves it.",
    )
    output_dir: str = Field(default="outputs/xai", min_length=1, max_length=512)

    @field_validator("target_layer")
    @classmethod
    def _layer(cls, value: str | int) -> str | int:
        if isinstance(value, str) and not _PYTHON_TARGET.match(value):
            raise ValueError(f"{value!r} is neither a layer attribute path (e.g. 'conv2') nor an index")
        return value


# One server is one SuperLink keeping its state in one file on one ReadWriteOnce volume:
# a second replica would share (and corrupt) both. Until a real multi-replica mode exists,
# 0 (paused) or 1; a server grows vertically (cpu, memory, gpu).
MAX_REPLICAS = 1


def _one_replica(value: int) -> int:
    if value > MAX_REPLICAS:
        raise ValueError(
            f"a server runs at most {MAX_REPLICAS} replica (0 pauses it), not {value}: two would share "
            "one SuperLink state file and one ReadWriteOnce volume; scale it vertically with cpu, "
            "memory and gpu instead"
        )
    return value


Replicas = Annotated[
    int,
    # ``maximum`` in the schema, a sentence in the error (``le`` would only say "<= 1").
    Field(ge=0, json_schema_extra={"maximum": MAX_REPLICAS}),
    AfterValidator(_one_replica),
]


def _gpu_count(value: object) -> int:
    return parse_whole_count(value, what="gpu")


class ResourcesSpec(_Section):
    """What the FL server gets, as Kubernetes quantities."""

    cpu: Annotated[str, BeforeValidator(normalize_cpu)] = "1"
    memory: Annotated[str, BeforeValidator(lambda v: normalize_bytes(v, what="memory"))] = "2Gi"
    gpu: Annotated[int, BeforeValidator(_gpu_count)] = 0
    storage: Annotated[str, BeforeValidator(lambda v: normalize_bytes(v, what="storage"))] = "1Gi"
    replicas: Replicas = Field(default=1, description="0 (paused) or 1; more is refused.")


class TaskSpec(_Section):
    """A federated-learning task as an operator declares it."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=2_000)
    model: ModelSpec = Field(default_factory=ModelSpec)
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    rounds: int = Field(default=3, ge=1, le=100_000)
    clients: ClientsSpec = Field(default_factory=ClientsSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    xai: XaiSpec = Field(default_factory=XaiSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not _DNS1123_LABEL.match(value):
            raise ValueError(
                f"{value!r} is not a DNS-1123 label: use lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (e.g. 'mnist-xai')"
            )
        return value

    def to_document(self) -> dict[str, Any]:
        """The spec as plain JSON-compatible data, for storage and transport."""
        return self.model_dump(mode="json")
