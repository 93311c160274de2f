"""Monitoring (``/api/v1/monitoring``): the reports servers and clients send, and the
rounds and Grad-CAM artifacts read back from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from fedops.api.schemas.base import DB_INT_MAX, JSON_INT_MAX, ResponseModel, WireModel

__all__ = [
    "ArtifactPublic",
    "ArtifactsPublic",
    "ClientRoundReport",
    "ClientTimings",
    "IngestResult",
    "Report",
    "ReportBatch",
    "ReportsPublic",
    "RoundPublic",
    "RoundsPublic",
    "ServerRoundReport",
    "ServerTimings",
    "SystemReport",
]

ReportId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
MetricMap = dict[Annotated[str, Field(min_length=1, max_length=64)], float]


class ServerTimings(WireModel):
    """Seconds spent by the server in each phase of a round."""

    configure: float | None = Field(default=None, ge=0)
    wait: float | None = Field(default=None, ge=0)
    aggregate: float | None = Field(default=None, ge=0)
    evaluate: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)


class ClientTimings(WireModel):
    """Seconds spent by a client in each phase of a round."""

    wait: float | None = Field(default=None, ge=0)
    load: float | None = Field(default=None, ge=0)
    train: float | None = Field(default=None, ge=0)
    evaluate: float | None = Field(default=None, ge=0)
    xai: float | None = Field(default=None, ge=0)
    upload: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)


class _ReportBase(WireModel):
    report_id: ReportId = Field(description="Made by the sender; a resend is stored once.")
    task_id: str
    created_at: datetime | None = None


class ServerRoundReport(_ReportBase):
    kind: Literal["server_round"] = "server_round"
    round: int = Field(ge=0, le=DB_INT_MAX)
    num_clients: int = Field(default=0, ge=0, le=DB_INT_MAX)
    num_failures: int | None = Field(
        default=None,
        ge=0,
        le=DB_INT_MAX,
        description="Clients asked to train that failed or did not reply in time (unset: not counted).",
    )
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
    explanations_generated: int | None = Field(
        default=None, ge=0, le=DB_INT_MAX, description="XAI images the client made this round."
    )


class SystemReport(_ReportBase):
    kind: Literal["system"] = "system"
    client_id: str | None = Field(default=None, description="None for the FL server itself.")
    round: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    cpu_percent: float | None = Field(default=None, ge=0)
    rss_bytes: int | None = Field(default=None, ge=0, le=JSON_INT_MAX)
    gpu_utilization_percent: float | None = Field(default=None, ge=0, le=100)
    gpu_memory_bytes: int | None = Field(default=None, ge=0, le=JSON_INT_MAX)


Report = Annotated[ServerRoundReport | ClientRoundReport | SystemReport, Field(discriminator="kind")]


class ReportBatch(WireModel):
    reports: list[Report] = Field(min_length=1, max_length=1000)


class IngestResult(ResponseModel):
    accepted: int = Field(description="Reports stored by this call.")
    duplicates: int = Field(description="Reports already stored earlier (same report_id).")


class ReportsPublic(ResponseModel):
    data: list[Report]
    count: int


class RoundPublic(ResponseModel):
    """One round of a task: the server's report and a summary of the clients' reports."""

    round: int
    server: ServerRoundReport | None
    client_reports: int
    mean_client_train_seconds: float | None
    mean_client_val_accuracy: float | None


class RoundsPublic(ResponseModel):
    data: list[RoundPublic]
    count: int


class ArtifactPublic(ResponseModel):
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
        default=None,
        description='"Confidence kept", in [0, 1]: the share of the model\'s confidence in the explained '
        "class that the highlighted regions keep on their own (the image multiplied by its map), "
        "averaged over the class's samples. 1.0: the map holds all that drives the decision; near 0: "
        "it misses it. Values outside [0, 1] were stored by older clients (a raw logit change, an "
        "old scale).",
    )
    created_at: datetime


class ArtifactsPublic(ResponseModel):
    data: list[ArtifactPublic]
    count: int
