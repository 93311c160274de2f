"""The one shape of every non-2xx answer of the APIs."""

from __future__ import annotations

from pydantic import Field

from fedops.api.schemas.base import ResponseModel

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "ErrorPublic",
]


class ErrorDetail(ResponseModel):
    field: str | None = None
    message: str


class ErrorBody(ResponseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorPublic(ResponseModel):
    """Every non-2xx answer of the APIs has this shape."""

    error: ErrorBody
