"""Errors with stable codes, mapped to HTTP statuses in one catalogue.

Service code raises :class:`FedopsError` with a code and a message written for the
person who sent the request. Internal details (exceptions, SQL, paths) are logged by
the API layer and never returned. A test checks that every code has a status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["STATUS_BY_CODE", "ErrorCode", "FedopsError", "FieldProblem", "validation_error"]


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    MALFORMED_REQUEST = "malformed_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CSRF_TOKEN_INVALID = "csrf_token_invalid"  # noqa: S105 - an error code
    TASK_NOT_FOUND = "task_not_found"
    CLIENT_NOT_FOUND = "client_not_found"
    CLIENT_NAME_TAKEN = "client_name_taken"
    SERVER_NOT_PROVISIONED = "server_not_provisioned"
    MODEL_VERSION_NOT_FOUND = "model_version_not_found"
    ARTIFACT_NOT_FOUND = "artifact_not_found"
    CHECKPOINT_NOT_AVAILABLE = "checkpoint_not_available"
    TASK_NAME_TAKEN = "task_name_taken"
    TASK_NAME_IMMUTABLE = "task_name_immutable"
    INVALID_STATE = "invalid_state"
    ENROLLMENT_TOKEN_INVALID = "enrollment_token_invalid"  # noqa: S105 - an error code
    UNSUPPORTED_BY_PROVISIONER = "unsupported_by_provisioner"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PROVISIONER_FAILED = "provisioner_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CSRF_TOKEN_INVALID: 403,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.CLIENT_NOT_FOUND: 404,
    ErrorCode.CLIENT_NAME_TAKEN: 409,
    ErrorCode.SERVER_NOT_PROVISIONED: 409,
    ErrorCode.MODEL_VERSION_NOT_FOUND: 404,
    ErrorCode.ARTIFACT_NOT_FOUND: 404,
    ErrorCode.CHECKPOINT_NOT_AVAILABLE: 404,
    ErrorCode.TASK_NAME_TAKEN: 409,
    ErrorCode.TASK_NAME_IMMUTABLE: 422,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.ENROLLMENT_TOKEN_INVALID: 401,
    ErrorCode.UNSUPPORTED_BY_PROVISIONER: 422,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.PROVISIONER_FAILED: 503,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.INTERNAL_ERROR: 500,
}


@dataclass(frozen=True)
class FieldProblem:
    field: str | None
    message: str


@dataclass
class FedopsError(Exception):
    """A failure the caller can act on; ``message`` is safe to show them."""

    code: ErrorCode
    message: str
    details: list[FieldProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


def validation_error(
    errors: Iterable[Mapping[str, Any]], *, skip: tuple[str, ...] = ("body",)
) -> FedopsError:
    """One 422 from pydantic's error list, naming every offending field.

    ``skip`` drops transport prefixes (``body``, ``query``) so fields read as the user
    wrote them, e.g. ``strategy.params``.
    """
    problems = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if str(part) not in skip]
        # pydantic prefixes messages of our validators with "Value error, "
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(FieldProblem(".".join(location) or None, message))
    if not problems:
        return FedopsError(ErrorCode.VALIDATION_ERROR, "the request is invalid")
    first = problems[0]
    summary = f"{first.field}: {first.message}" if first.field else first.message
    if len(problems) > 1:
        summary += f" (and {len(problems) - 1} more problem(s), see details)"
    return FedopsError(ErrorCode.VALIDATION_ERROR, summary, problems)
