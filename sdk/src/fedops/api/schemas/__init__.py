"""Wire schemas of the registry and monitoring APIs.

The services answer with these models and the typed clients parse into them, so a
change here changes both sides at once. Naming follows one family per resource:
``XCreate`` (request), ``XPublic`` (response), ``XsPublic`` (``{data, count}`` list).

One module per resource, as the API is laid out (``tasks``, ``servers``, ``clients``,
``model_versions``, ``reports`` for monitoring, ``auth``, ``conversions``, ``errors``; ``base`` holds the two
model kinds and shared limits). Every public name is re-exported here: import from
``fedops.api.schemas``.
"""

from fedops.api.schemas.auth import SessionPublic, WhoAmI
from fedops.api.schemas.base import DB_INT_MAX, JSON_INT_MAX
from fedops.api.schemas.clients import (
    ClientPublic,
    ClientsPublic,
    EnrolledClient,
    EnrollmentRequest,
    EnrollmentTokenCreate,
    EnrollmentTokenPublic,
    HeartbeatRequest,
    ManagerState,
)
from fedops.api.schemas.conversions import (
    MAX_FEDOPS_CONFIG_CHARS,
    ConversionNotePublic,
    FedopsConfigConversion,
    FedopsConfigConversionRequest,
)
from fedops.api.schemas.errors import ErrorBody, ErrorDetail, ErrorPublic
from fedops.api.schemas.model_versions import ModelVersionCreate, ModelVersionPublic, ModelVersionsPublic
from fedops.api.schemas.reports import (
    ArtifactPublic,
    ArtifactsPublic,
    ClientRoundReport,
    ClientTimings,
    IngestResult,
    Report,
    ReportBatch,
    ReportsPublic,
    RoundPublic,
    RoundsPublic,
    ServerRoundReport,
    ServerTimings,
    SystemReport,
)
from fedops.api.schemas.servers import LogsPublic, PodStatus, RunResult, ScaleRequest, ServerStatus
from fedops.api.schemas.tasks import (
    RevisionPublic,
    RevisionsPublic,
    TaskProgress,
    TaskPublic,
    TasksPublic,
    TaskStatus,
)

__all__ = [
    "DB_INT_MAX",
    "JSON_INT_MAX",
    "MAX_FEDOPS_CONFIG_CHARS",
    "ArtifactPublic",
    "ArtifactsPublic",
    "ClientPublic",
    "ClientRoundReport",
    "ClientTimings",
    "ClientsPublic",
    "ConversionNotePublic",
    "EnrolledClient",
    "EnrollmentRequest",
    "EnrollmentTokenCreate",
    "EnrollmentTokenPublic",
    "ErrorBody",
    "ErrorDetail",
    "ErrorPublic",
    "FedopsConfigConversion",
    "FedopsConfigConversionRequest",
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
    "SessionPublic",
    "SystemReport",
    "TaskProgress",
    "TaskPublic",
    "TaskStatus",
    "TasksPublic",
    "WhoAmI",
]
